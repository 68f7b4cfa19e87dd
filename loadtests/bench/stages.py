"""laneway's own per-request work, stage by stage, in-process: microseconds of CPU per call.

    .venv/bin/python -m loadtests.bench.stages [--src DIR] [--n 2000]

No server, no network, no other process: the figures hold on a busy machine too, which
wrk's throughput does not. Each stage runs on the benchmark's bodies (a qa chat, a FIM
completion) with a config like `make bench` uses; the best of 5 repeats is shown.
Internal APIs move: a stage that no longer fits the code is reported as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from loadtests.bench.bodies import KINDS
from loadtests.bench.procs import ROOT
from loadtests.bench.run import HEADERS, laneway_config

Stage = tuple[str, Callable[[], object]]


def best_us(fn: Callable[[], object], n: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time_ns()
        for _ in range(n):
            fn()
        best = min(best, (time.process_time_ns() - t0) / n / 1000)
    return best


def _stages(kind: str) -> list[Stage]:
    # Imported here: `--src` decides which tree's modules these are.
    import aiohttp
    from starlette.datastructures import Headers
    from starlette.responses import Response

    from policies.lanes import Endpoint, classify
    from router.config import parse
    from router.context import RequestContext
    from router.http import endpoints
    from router.http.body import read_body, validate
    from router.observe.metrics import Metrics
    from router.runtime import Runtime
    from router.stages.plan import plan
    from router.stages.record import record

    body_obj = KINDS[kind]("auto")
    raw = body_obj.render("1")
    endpoint = Endpoint.CHAT if body_obj.path.endswith("chat/completions") else (
        Endpoint.COMPLETIONS)
    headers: Any = Headers({k.lower(): v for k, v in HEADERS.items()})
    request: Any = _FakeRequest(b"", headers)
    plain = getattr(endpoints, "plain_headers", None)
    if plain is not None:  # what the endpoint hands the stages since 2026-11-27
        headers = plain(request)
    config = parse(laneway_config("http://127.0.0.1:9", redis=None), "<bench>")
    loop = asyncio.new_event_loop()
    session = loop.run_until_complete(_session(aiohttp))
    rt = Runtime.build(config, Metrics(), session)
    body = orjson.loads(raw)
    counter = iter(range(10**9))
    # A unique body per call (the benchmark's "unique" cell): no decision or trim memo hits.
    unique = [orjson.loads(body_obj.render(str(i))) for i in range(5 * 2000 + 64)]

    def ctx() -> Any:
        return RequestContext(request_id="r", endpoint=endpoint, body=body, headers=headers,
                              tenant="t", started=time.perf_counter(), body_bytes=len(raw),
                              requested_model="auto")

    planned = ctx()
    p = plan(rt, planned)
    model = p.choice.candidates[0].model
    up_body, _ = p.body_for(planned, model)
    planned.model = model
    answer = b'{"id":"x","choices":[{"message":{"content":"ok"}}],"usage":' \
             b'{"prompt_tokens":150,"completion_tokens":20}}'

    def fresh_body() -> bytes:
        cached = getattr(p, "by_family", None)  # completions are trimmed per FIM family,
        if isinstance(cached, dict):  # once per request: measure that, not the memo
            cached.clear()
        return orjson.dumps(p.body_for(planned, model)[0])

    def recorded() -> None:
        c = ctx()
        c.decision, c.model = planned.decision, model
        record(rt, c, [answer], True)

    def plan_unique() -> object:
        c = ctx()
        c.body = unique[next(counter) % len(unique)]
        return plan(rt, c)

    request.raw = raw

    def headers_dict() -> object:
        return plain(request) if plain is not None else None

    def read() -> object:
        request.sent = False
        coro = read_body(request, 1 << 20)
        try:
            coro.send(None)
        except StopIteration as done:
            return done.value
        raise RuntimeError("read_body waited")

    out: list[Stage] = [
        ("parse body (orjson.loads)", lambda: orjson.loads(raw)),
        ("read_body (one receive)", read),
        ("validate", lambda: validate(endpoint, body)),
        ("auth (KeyRing.tenant)", lambda: rt.keys.tenant(headers.get("authorization"))),
        ("request id (uuid4().hex)", lambda: uuid.uuid4().hex),
        ("request id (laneway's)", lambda: endpoints.request_id(request)),
        ("headers as a dict (plain_headers)", headers_dict),
        ("RequestContext()", ctx),
        ("classify", lambda: classify(endpoint, body, headers)),
        ("plan (classify+trim+choose)", lambda: plan(rt, ctx())),
        ("plan, unique body (no memo)", plan_unique),
        ("body_for (FIM trim per family) + dumps", fresh_body),
        ("answer_headers", planned.answer_headers),
        ("starlette Response(...)", lambda: Response(answer, media_type="application/json",
                                                     headers=planned.answer_headers())),
        ("record (metrics, log line)", recorded),
    ]
    del up_body
    loop.run_until_complete(session.close())
    loop.close()
    return out


class _FakeRequest:
    """What read_body and request_id use of a Starlette Request: headers, one receive."""

    def __init__(self, raw: bytes, headers: Any) -> None:
        self.raw, self.headers, self.sent = raw, headers, False
        self.scope = {"type": "http", "headers": headers.raw}

    async def receive(self) -> dict[str, Any]:
        self.sent = True
        return {"type": "http.request", "body": self.raw, "more_body": False}

    _receive = receive

    async def stream(self) -> Any:  # Starlette's, reduced to the one message used here
        message = await self.receive()
        yield message["body"]
        yield b""


async def _session(aiohttp: Any) -> Any:
    return aiohttp.ClientSession()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.stages", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--src", help="import router/policies/cache from this directory")
    p.add_argument("--n", type=int, default=2000, help="calls per repeat")
    args = p.parse_args(argv)
    sys.path.insert(0, str(Path(args.src).resolve() if args.src else ROOT))
    t = Table(title="laneway per-request stages (CPU µs per call, best of 5)")
    t.add_column("stage")
    kinds = list(KINDS)
    for k in kinds:
        t.add_column(k, justify="right")
    results: dict[str, dict[str, str]] = {}
    for k in kinds:
        try:
            stages = _stages(k)
        except Exception as exc:  # the internals moved: say so rather than crash
            print(f"{k}: stages skipped ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        for name, fn in stages:
            try:
                results.setdefault(name, {})[k] = f"{best_us(fn, args.n):.1f}"
            except Exception as exc:
                results.setdefault(name, {})[k] = f"error: {type(exc).__name__}"
    for name, row in results.items():
        t.add_row(name, *(row.get(k, "-") for k in kinds))
    Console(width=max(Console().width, 120)).print(t)
    return 0


if __name__ == "__main__":
    sys.exit(main())
