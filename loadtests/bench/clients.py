"""The upstream client alone: aiohttp's ClientSession against laneway's lean HTTP/1.1 client
(router/upstreams/http1.py), the same non-streamed chat call to the fleet, side by side in one run.

    .venv/bin/python -m loadtests.bench.clients [--n 3000] [--rounds 3]

The fleet (zero latency) runs in its own process on CPU 0 and this one on CPU 1 (two or more
cores), so the figure is this process's CPU per call (time.process_time): the client's
work, its system calls and the event loop, nothing of the fleet's. Calls run one at a time
(c1) and 16 at a time (c16). Rounds alternate the two clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
import uvloop
from multidict import CIMultiDict, CIMultiDictProxy
from rich.console import Console
from rich.table import Table
from yarl import URL

from loadtests.bench.procs import ROOT, cpu_count, fleet_server
from router.upstreams import http1

BODY = orjson.dumps({
    "model": "qwen3-coder-1.5b", "max_tokens": 64,
    "messages": [{"role": "user", "content": "Why does total([]) return None? " * 8}],
})
Call = Callable[[], Awaitable[bytes]]


async def _cpu_per_call(call: Call, n: int, concurrency: int) -> float:
    async def worker(k: int) -> None:
        for _ in range(k):
            await call()

    await asyncio.gather(*(worker(20) for _ in range(concurrency)))  # warm: connections, caches
    start = time.process_time()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    return (time.process_time() - start) / (n // concurrency * concurrency) * 1e6


async def _measure(base: str, n: int, rounds: int) -> dict[tuple[str, int], list[float]]:
    url = URL(base + "/v1/chat/completions")
    headers = CIMultiDictProxy(CIMultiDict({"content-type": "application/json"}))
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
        skip_auto_headers=("User-Agent",),
    )
    timeout = aiohttp.ClientTimeout(total=30, connect=5)
    pool = http1.Pool()
    assert url.host is not None and url.port is not None
    target = http1.Target(url.host, url.port, url.raw_path, {"content-type": "application/json"})

    async def with_aiohttp() -> bytes:  # what router/upstreams/openai.py does for https:// models
        resp = await session.post(url, data=BODY, headers=headers, timeout=timeout)
        data = await resp.read()
        resp.release()
        return data

    async def with_http1() -> bytes:  # ... and for http:// models
        answer = await pool.post(target, BODY, whole=True, connect_s=5, timeout_s=30)
        return await answer.read()

    out: dict[tuple[str, int], list[float]] = {}
    try:
        for _ in range(rounds):
            for name, call in (("aiohttp", with_aiohttp), ("http1", with_http1)):
                for c in (1, 16):
                    out.setdefault((name, c), []).append(await _cpu_per_call(call, n, c))
    finally:
        pool.close()
        await session.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3000, help="calls per client, concurrency, round")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    two = cpu_count() >= 2
    fleet = fleet_server("fleet", ROOT / "bench-results" / "clients-fleet.log",
                         {0} if two else None)
    try:
        if two:
            os.sched_setaffinity(0, {1})
        found = uvloop.run(_measure(fleet.url, args.n, args.rounds))
    finally:
        fleet.stop()
    table = Table(title="upstream client: CPU µs per non-streamed call (this process; best of "
                        f"{args.rounds} rounds)")
    for col in ("client", "c1", "c16"):
        table.add_column(col, justify="right")
    for name in ("aiohttp", "http1"):
        table.add_row(name, *(f"{min(found[(name, c)]):.1f}" for c in (1, 16)))
    table.add_row("aiohttp / http1", *(
        f"{min(found[('aiohttp', c)]) / min(found[('http1', c)]):.1f}x" for c in (1, 16)))
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
