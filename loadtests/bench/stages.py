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

    from policies.lanes import classify
    from router.config import parse
    from router.context import RequestContext
    from router.frontends.openai import CHAT, COMPLETIONS
    from router.http import endpoints
    from router.http.body import read_body
    from router.observe.metrics import Metrics
    from router.runtime import Runtime

    body_obj = KINDS[kind]("auto")
    raw = body_obj.render("1")
    frontend = CHAT if body_obj.path.endswith("chat/completions") else COMPLETIONS
    endpoint = frontend.endpoint
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
                              tenant="t", started=time.perf_counter(), frontend=frontend,
                              body_bytes=len(raw), requested_model="auto")

    chain = rt.chain  # each stage timed on its own, in chain order
    planned = ctx()
    chain.classify.run(planned)
    chain.choose.run(planned)
    model = planned.notes.choice.candidates[0].model
    planned.model = model
    answer = b'{"id":"x","choices":[{"message":{"content":"ok"}}],"usage":' \
             b'{"prompt_tokens":150,"completion_tokens":20}}'

    def classified() -> Any:
        c = ctx()
        chain.classify.run(c)
        return c

    def chosen() -> Any:
        c = classified()
        chain.choose.run(c)
        return c

    def chosen_unique() -> object:
        c = ctx()
        c.body = unique[next(counter) % len(unique)]
        chain.classify.run(c)
        chain.choose.run(c)
        return c

    def looked_up() -> object:
        return chain.cache.look_up(planned, model)

    def trimmed() -> bytes:
        by_family = planned.notes.by_family  # completions are trimmed per FIM family,
        if by_family:  # once per request: measure that, not the memo
            by_family.clear()
        chain.trim.run(planned, model)
        return orjson.dumps(planned.upstream_body)

    def recorded() -> None:
        c = ctx()
        c.decision, c.model = planned.decision, model
        chain.record.run(c, [answer], True)

    feedback = getattr(chain, "feedback", None)  # ids and acceptance (since issue 18)

    def fed() -> Any:
        c = classified()
        if feedback is not None:
            feedback.run(c)
        return c

    def stamped() -> bytes:
        c = fed()  # a fresh id: the first chunk's id found by the regex, then replaced
        return feedback.stamp(c, answer) if feedback is not None else answer

    def recorded_fed() -> None:
        c = fed()
        c.model = model
        chain.record.run(c, [answer], True)
        if feedback is not None:
            feedback.core._pending.clear()  # the drainer's work, off the request path

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
        ("parse (the front end's shape)", lambda: frontend.parse(body)),
        ("auth (KeyRing.tenant)", lambda: rt.keys.tenant(headers.get("authorization"))),
        ("request id (uuid4().hex)", lambda: uuid.uuid4().hex),
        ("request id (laneway's)", lambda: endpoints.request_id(request)),
        ("headers as a dict (plain_headers)", headers_dict),
        ("RequestContext()", ctx),
        ("classify (policies.lanes, no memo)", lambda: classify(endpoint, body, headers)),
        ("chain: classify", classified),
        ("chain: classify+choose", chosen),
        ("chain: classify+choose, unique body", chosen_unique),
        ("chain: cache look-up (L1 miss)", looked_up),
        ("chain: trim (per FIM family) + dumps", trimmed),
        ("answer_headers", planned.answer_headers),
        ("starlette Response(...)", lambda: Response(answer, media_type="application/json",
                                                     headers=planned.answer_headers())),
        ("chain: record (metrics, log line)", recorded),
        ("chain: classify+feedback (id, arm, implicit)", fed),
        ("  ... + stamp the id", stamped),
        ("  ... + record, answer shown", recorded_fed),
    ]
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
