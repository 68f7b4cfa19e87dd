"""Memory under hostile headers: RSS of one laneway worker, idle and after N requests that
each carry a distinct 4 KiB header (read by the lane classifier) and a distinct spelling of
the client key (remembered by the key ring).

    .venv/bin/python -m loadtests.memory [--requests 2000] [--code DIR]

`--code DIR` runs another checkout's laneway (e.g. /work/main) with this environment, for a
before/after figure. The fleet answers at once; nothing here is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import httpx
import yaml

from loadtests.bench.procs import ROOT, fleet_server, laneway_server
from tests.procs import fleet_models

KEY = "sk-memory-probe-0123456789abcdef"
BODY = {"model": "auto", "messages": [{"role": "user", "content": "What is a closure?"}]}


def spelling(i: int) -> str:
    """A distinct, valid spelling of the key's header: the scheme's case and the spaces vary."""
    scheme = "".join(c.upper() if (i >> n) & 1 else c for n, c in enumerate("bearer"))
    return f"{scheme}{' ' * (1 + i // 64)}{KEY}"


async def load(url: str, n: int, header_bytes: int, concurrency: int = 16) -> dict[int, int]:
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            pad = f"{i:08d}" * (header_bytes // 8)
            r = await client.post("/v1/chat/completions", json=BODY, headers={
                "authorization": spelling(i), "user-agent": pad, "x-title": pad[::-1]})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--header-bytes", type=int, default=4096)
    ap.add_argument("--code", type=Path, default=ROOT, help="the checkout whose laneway runs")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fleet = fleet_server("fleet", work / "fleet.log", None)
        try:
            config = work / "laneway.yaml"
            config.write_text(yaml.safe_dump({
                "server": {"api_keys": [KEY]}, "models": fleet_models(fleet.url)}))
            lw = laneway_server("laneway", config, work / "laneway.log", None, cwd=args.code)
            try:
                asyncio.run(load(lw.url, 20, 64))  # warm: imports, pools, first answers
                idle = lw.rss_mb()
                statuses = asyncio.run(load(lw.url, args.requests, args.header_bytes))
                after = lw.rss_mb()
            finally:
                lw.stop()
        finally:
            fleet.stop()
    print(f"code: {args.code}")
    print(f"requests: {args.requests} with distinct {args.header_bytes}-byte headers and "
          f"distinct key spellings; statuses {statuses}")
    print(f"RSS idle {idle:.1f} MB, after {after:.1f} MB, growth {after - idle:+.1f} MB")


if __name__ == "__main__":
    main()
