"""Upstream timeouts, against an in-process fleet: connect, first token, idle gap, total.

Before the first byte a timeout is an UpstreamFailure (the pipeline answers 504 or falls
back); after it, StreamBroken (the pipeline ends the stream with an SSE error event).
Either way the upstream sees its request closed.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from fleet.faults import parse_fault
from fleet.profiles import FleetSettings
from fleet.server import FleetServer, start
from policies.catalog import ModelSpec, Tier
from policies.lanes import Endpoint
from router.upstream import OpenAIUpstream, StreamBroken, Timeouts, UpstreamFailure, new_session

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Explain Python decorators."}]}


@pytest.fixture
async def fleet() -> AsyncIterator[FleetServer]:
    async with await start(FleetSettings()) as server:
        yield server


@pytest.fixture
async def upstream() -> AsyncIterator[OpenAIUpstream]:
    session = new_session()
    yield OpenAIUpstream(session)
    await session.close()


def model_at(base: str) -> ModelSpec:
    return ModelSpec("m", base, "openai", "m", Tier.SMALL, frozenset({"qa"}), 32768, 0, 0, None)


def fault(fleet: FleetServer, text: str) -> None:
    fleet.state.set_fault("m", parse_fault(text))


async def closed_upstream(fleet: FleetServer) -> list[dict]:
    """The fleet's log once its one request has finished (it finishes when we hang up)."""
    ok = await fleet.state.wait_until(lambda: fleet.state.inflight == 0, 2.0)
    assert ok, "the upstream request is still open"
    return fleet.state.entries({})


async def test_hung_model_times_out_before_first_byte(fleet, upstream):
    fault(fleet, "hang")
    t = Timeouts(connect_s=1, ttft_s=0.3, idle_s=5, total_s=10)
    began = time.monotonic()
    with pytest.raises(UpstreamFailure) as failure:
        await upstream.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True, t,
                            time.perf_counter())
    assert failure.value.reason == "timeout" and failure.value.retryable
    assert 0.3 <= time.monotonic() - began < 1.0
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_slow_first_token_times_out(fleet, upstream):
    fault(fleet, "ttft_ms=2000")  # headers go out at once, the first token only later
    t = Timeouts(connect_s=1, ttft_s=0.3, idle_s=5, total_s=10)
    with pytest.raises(UpstreamFailure) as failure:
        await upstream.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True, t,
                            time.perf_counter())
    assert failure.value.reason == "timeout"
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_silence_between_chunks_breaks_the_stream(fleet, upstream):
    fault(fleet, "ttft_ms=0,chunk_delay_ms=3000")
    t = Timeouts(connect_s=1, ttft_s=1, idle_s=0.3, total_s=10)
    reply = await upstream.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True,
                                t, time.perf_counter())
    assert reply.first and reply.rest is not None
    began = time.monotonic()
    with pytest.raises(StreamBroken) as broken:
        async for _ in reply.rest:
            pass
    assert broken.value.reason == "idle_timeout"
    assert time.monotonic() - began < 1.0
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_total_limit_ends_a_trickling_stream(fleet, upstream):
    fault(fleet, "ttft_ms=0,chunk_delay_ms=100,chunks=100")
    t = Timeouts(connect_s=1, ttft_s=1, idle_s=1, total_s=0.6)
    began = time.monotonic()
    reply = await upstream.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True,
                                t, time.perf_counter())
    assert reply.rest is not None
    with pytest.raises(StreamBroken) as broken:
        async for _ in reply.rest:
            pass
    assert broken.value.reason == "total_timeout"
    assert 0.6 <= time.monotonic() - began < 1.2
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_non_streamed_answer_gets_the_total_not_the_first_token_limit(fleet, upstream):
    fault(fleet, "ttft_ms=400")
    t = Timeouts(connect_s=1, ttft_s=0.1, idle_s=0.1, total_s=5)
    reply = await upstream.open(model_at(fleet.url), Endpoint.CHAT, CHAT, False, t,
                                time.perf_counter())
    assert reply.status == 200 and b"choices" in reply.first


async def test_non_streamed_answer_over_the_total_times_out(fleet, upstream):
    fault(fleet, "hang")
    t = Timeouts(connect_s=1, ttft_s=0.1, idle_s=0.1, total_s=0.4)
    with pytest.raises(UpstreamFailure) as failure:
        await upstream.open(model_at(fleet.url), Endpoint.CHAT, CHAT, False, t,
                            time.perf_counter())
    assert failure.value.reason == "timeout"
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_refused_connection_is_a_connect_failure(upstream):
    from procs import free_port

    t = Timeouts(connect_s=0.5, ttft_s=1, idle_s=1, total_s=2)
    with pytest.raises(UpstreamFailure) as failure:
        await upstream.open(model_at(f"http://127.0.0.1:{free_port()}/v1"), Endpoint.CHAT, CHAT,
                            False, t, time.perf_counter())
    assert failure.value.reason == "connect" and failure.value.retryable
