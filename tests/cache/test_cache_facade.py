"""The pipeline's view: plan, lookup, join, store — two "replicas" sharing a real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from cache_samples import Upstream, assemble, chat_chunks, chat_summary, completion_chunks
from procs import RedisServer
from timing import against_control, within

# Submodules, not `cache`: under pytest, `tests/` is on sys.path and its `cache/` folder
# shadows the package's __init__ as a namespace package (see the report).
from cache.response_cache import CachePlan, DisabledCache, FimParts, ResponseCache, build_cache
from cache.singleflight import FlightFailed


@dataclass(frozen=True)
class Rule:
    enabled: bool = True
    ttl_s: int = 600
    max_temperature: float = 0.3
    typeahead: bool = True


CHAT = {"model": "auto", "messages": [{"role": "user", "content": "explain rebase"}],
        "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}


def plan(cache: ResponseCache, body: dict[str, Any] = CHAT, tenant: str = "t-a",
         endpoint: str = "/v1/chat/completions", fim: FimParts | None = None) -> CachePlan:
    p = cache.plan(tenant=tenant, model="fast", endpoint=endpoint, body=body, lane="qa",
                   rule=Rule())
    return p if fim is None else cache.refine(p, tenant=tenant, params=body, fim=fim)


async def serve(cache: ResponseCache, p: CachePlan, up: Upstream, streaming: bool = True
                ) -> tuple[str, bytes]:
    """What the pipeline does at the seam: (x-laneway-cache, what the client receives)."""
    hit = await cache.lookup(p)
    if hit is not None:
        return hit.tier, hit.render(streaming, p.want_usage)
    flight = cache.join(p, streaming=streaming, source=up.stream)
    tier = "miss" if flight.leader else "coalesced"
    if flight.same_mode:
        return tier, b"".join([raw async for raw in flight.events(p.want_usage)])
    answer = await flight.answer()
    return tier, answer.sse(p.want_usage) if streaming else answer.body


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[tuple[ResponseCache, ...]]:
    a = build_cache(redis_server.url, False, 50, 1 << 20)
    b = build_cache(redis_server.url, False, 50, 1 << 20)
    yield a, b
    await a.close()
    await b.close()


async def drained(cache: ResponseCache) -> None:
    assert cache.l2 is not None
    await cache.l2.drain()


async def test_what_one_replica_cached_the_other_serves_from_l2(
    replicas: tuple[ResponseCache, ResponseCache],
) -> None:
    a, b = replicas
    up = Upstream(chat_chunks(["git rebase ", "replays commits"]))
    tier, first = await serve(a, plan(a), up)
    assert tier == "miss" and up.calls == 1
    await drained(a)
    tier, again = await serve(b, plan(b), up)
    assert tier == "l2" and up.calls == 1
    original, replay = assemble("chat", [first]), assemble("chat", [again])
    assert original is not None and replay is not None
    assert chat_summary(replay) == chat_summary(original)  # content, finish, usage
    assert {k: replay[k] for k in ("id", "created", "model", "system_fingerprint")} == {
        k: original[k] for k in ("id", "created", "model", "system_fingerprint")}
    tier, _ = await serve(b, plan(b), up)
    assert tier == "l1"  # promoted
    tier, _ = await serve(b, plan(b, tenant="t-other"), up)
    assert tier == "miss" and up.calls == 2
    plain = await b.lookup(plan(b, CHAT | {"stream": False}))
    assert plain is not None  # the stream flag is not part of the key
    assert orjson.loads(plain.render(False))["choices"][0]["message"]["content"] == (
        "git rebase replays commits")


async def test_twenty_identical_requests_cost_one_upstream_call(
    replicas: tuple[ResponseCache, ResponseCache],
) -> None:
    a, _ = replicas
    up = Upstream(chat_chunks(["slow ", "answer"]), delay=0.02)
    results = await asyncio.gather(*(serve(a, plan(a), up) for _ in range(20)))
    assert up.calls == 1
    tiers = sorted(t for t, _ in results)
    assert tiers == ["coalesced"] * 19 + ["miss"]
    assert len({body for _, body in results}) == 1
    assert a.counts["flight", "coalesced"] == 19


async def test_typeahead_serves_the_rest_of_the_suggestion(
    replicas: tuple[ResponseCache, ResponseCache],
) -> None:
    a, _ = replicas
    prefix, suffix = "def add(a, b):\n    ", "\n\nprint(add(1, 2))\n"
    body = {"model": "auto", "prompt": f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            "temperature": 0.1, "max_tokens": 64, "stream": True}
    up = Upstream(completion_chunks(["return ", "a + b"]))
    first = plan(a, body, endpoint="/v1/completions", fim=FimParts(prefix, suffix))
    assert (await serve(a, first, up))[0] == "miss"
    typed = prefix + "ret"
    body2 = body | {"prompt": f"<fim_prefix>{typed}<fim_suffix>{suffix}<fim_middle>"}
    later = plan(a, body2, endpoint="/v1/completions", fim=FimParts(typed, suffix))
    tier, stream = await serve(a, later, up)
    assert tier == "typeahead" and up.calls == 1
    replay = assemble("completions", [stream])
    assert replay is not None and replay["choices"][0]["text"] == "urn a + b"


@pytest.mark.parametrize("how", ["client", "upstream_raises", "upstream_error_event"])
async def test_cut_streams_are_not_cached(
    replicas: tuple[ResponseCache, ResponseCache], redis_server: RedisServer, how: str
) -> None:
    a, b = replicas
    chunks = chat_chunks(["partial ", "answer"])
    up = Upstream(chunks, fail_after=3 if how == "upstream_raises" else None)
    if how == "upstream_error_event":
        up.chunks = [*chunks[:3], b'data: {"error": {"message": "boom"}}\n\n']
    if how == "client":
        up.gate = asyncio.Event()
    flight = a.join(plan(a), streaming=True, source=up.stream)
    reading = flight.events(True)
    if how == "client":
        await anext(reading)
        await reading.aclose()  # the only client went away mid-answer
    else:
        with pytest.raises(FlightFailed) if how == "upstream_raises" else contextlib.nullcontext():
            async for _ in reading:
                pass
    while up.closed == 0:
        await asyncio.sleep(0)
    await drained(a)
    assert await a.lookup(plan(a)) is None
    assert await b.lookup(plan(b)) is None
    assert redis_server.cli("dbsize") == "0"


async def test_usage_is_replayed_only_when_it_exists(
    replicas: tuple[ResponseCache, ResponseCache],
) -> None:
    a, _ = replicas
    no_usage = CHAT | {"stream_options": None}
    await serve(a, plan(a, no_usage), Upstream(chat_chunks(["x"], usage=False)))
    assert await a.lookup(plan(a, no_usage)) is not None
    assert await a.lookup(plan(a)) is None  # asks for usage; the stored answer has none
    assert await a.lookup(plan(a, CHAT | {"stream": False})) is None  # JSON answers carry it
    await serve(a, plan(a), Upstream(chat_chunks(["x"])))  # a fresh answer, with usage
    assert await a.lookup(plan(a, CHAT | {"stream": False})) is not None
    assert await a.lookup(plan(a, no_usage)) is not None


async def test_redis_frozen_and_killed_mid_traffic(
    replicas: tuple[ResponseCache, ResponseCache], redis_server: RedisServer
) -> None:
    a, b = replicas
    health: list[bool] = []
    assert b.l2 is not None
    b.l2.on_health = health.append
    await serve(a, plan(a), Upstream(chat_chunks(["warm"])))
    await drained(a)

    def planned(i: int) -> CachePlan:
        return plan(b, CHAT | {"messages": [{"role": "user", "content": f"q{i}"}]})

    async def requests(*numbers: int) -> None:
        """No cache lookup waits much longer than the Redis timeout; every request succeeds."""
        hits, wait, control = await against_control(
            0.05, *(b.lookup(planned(i)) for i in numbers)
        )
        assert within(wait, control), (wait, control)
        for i, hit in zip(numbers, hits, strict=True):
            assert hit is None
            tier, out = await serve(b, planned(i), Upstream(chat_chunks([f"a{i}"])))
            assert out.endswith(b"data: [DONE]\n\n") and tier in ("miss", "l1")

    redis_server.freeze()
    try:
        await requests(*range(30))
        for i in range(30, 40):
            await requests(i)
        assert b.state() == "degraded"
    finally:
        redis_server.thaw()
    deadline = time.monotonic() + 5
    while b.state() != "ok":
        assert time.monotonic() < deadline, "caching did not resume"
        await asyncio.sleep(0.02)
    assert False in health and health[-1] is True  # reported down, then up (redis_up)
    await serve(b, plan(b, CHAT | {"temperature": 0.1}), Upstream(chat_chunks(["late"])))
    await drained(b)
    assert int(redis_server.cli("dbsize")) >= 2  # writes reach Redis again
    redis_server.kill()
    for i in range(40, 50):
        await requests(i)


async def test_cluster_as_l2(redis_cluster: list[RedisServer]) -> None:
    url = f"redis+cluster://127.0.0.1:{redis_cluster[0].port}"
    a, b = build_cache(url, False, 50, 1 << 20), build_cache(url, False, 50, 1 << 20)
    try:
        await a.start()
        await b.start()  # learns the slot map before serving
        assert a.state() == b.state() == "ok"
        up = Upstream(chat_chunks(["clustered"]))
        for i in range(6):
            body = CHAT | {"messages": [{"role": "user", "content": f"c{i}"}]}
            await serve(a, plan(a, body), up)
        await drained(a)
        for i in range(6):
            body = CHAT | {"messages": [{"role": "user", "content": f"c{i}"}]}
            assert (await serve(b, plan(b, body), up))[0] == "l2"
        assert up.calls == 6
    finally:
        await a.close()
        await b.close()


async def test_disabled_and_memory_only() -> None:
    off = DisabledCache()
    p = plan(off)
    assert not p.cacheable and p.bypass == "disabled" and off.state() == "disabled"
    assert await off.lookup(p) is None
    local = build_cache(None, False, 50, 1 << 20)
    assert local.state() == "disabled" and local.l2 is None
    await serve(local, plan(local), Upstream(chat_chunks(["mem"])))
    assert (await serve(local, plan(local), Upstream([])))[0] == "l1"
    assert isinstance(build_cache(None, False, 50, 0), DisabledCache)
    hot = plan(local, CHAT | {"temperature": 0.9})
    assert hot.bypass == "temperature" and local.counts["bypass", "temperature"] == 1
