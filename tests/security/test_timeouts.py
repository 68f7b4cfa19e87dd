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
from router.upstreams import http1
from router.upstreams.openai import (
    OpenAIUpstream,
    StreamBroken,
    Timeouts,
    UpstreamFailure,
    new_session,
)

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Explain Python decorators."}]}


@pytest.fixture
async def fleet() -> AsyncIterator[FleetServer]:
    async with await start(FleetSettings()) as server:
        yield server


@pytest.fixture(params=["lean", "aiohttp"])
async def caller(request) -> AsyncIterator[OpenAIUpstream]:
    """Both clients: plain-HTTP upstreams go through the lean one, HTTPS through aiohttp."""
    session = new_session()
    pool = http1.Pool() if request.param == "lean" else None
    yield OpenAIUpstream(session, pool)
    if pool is not None:
        pool.close()
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


async def test_hung_model_times_out_before_first_byte(fleet, caller):
    fault(fleet, "hang")
    t = Timeouts(connect_s=1, ttft_s=0.3, idle_s=5, total_s=10)
    began = time.monotonic()
    with pytest.raises(UpstreamFailure) as failure:
        await caller.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True, t,
                            time.perf_counter())
    assert failure.value.reason == "timeout" and failure.value.retryable
    assert 0.3 <= time.monotonic() - began < 1.0
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_slow_first_token_times_out(fleet, caller):
    fault(fleet, "ttft_ms=2000")  # headers go out at once, the first token only later
    t = Timeouts(connect_s=1, ttft_s=0.3, idle_s=5, total_s=10)
    with pytest.raises(UpstreamFailure) as failure:
        await caller.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True, t,
                            time.perf_counter())
    assert failure.value.reason == "timeout"
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_silence_between_chunks_breaks_the_stream(fleet, caller):
    fault(fleet, "ttft_ms=0,chunk_delay_ms=3000")
    t = Timeouts(connect_s=1, ttft_s=1, idle_s=0.3, total_s=10)
    reply = await caller.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True,
                                t, time.perf_counter())
    assert reply.first and reply.rest is not None
    began = time.monotonic()
    with pytest.raises(StreamBroken) as broken:
        async for _ in reply.rest:
            pass
    assert broken.value.reason == "idle_timeout"
    assert time.monotonic() - began < 1.0
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_total_limit_ends_a_trickling_stream(fleet, caller):
    fault(fleet, "ttft_ms=0,chunk_delay_ms=100,chunks=100")
    t = Timeouts(connect_s=1, ttft_s=1, idle_s=1, total_s=0.6)
    began = time.monotonic()
    reply = await caller.open(model_at(fleet.url), Endpoint.CHAT, CHAT | {"stream": True}, True,
                                t, time.perf_counter())
    assert reply.rest is not None
    with pytest.raises(StreamBroken) as broken:
        async for _ in reply.rest:
            pass
    assert broken.value.reason == "total_timeout"
    assert 0.6 <= time.monotonic() - began < 1.2
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_non_streamed_answer_gets_the_total_not_the_first_token_limit(fleet, caller):
    fault(fleet, "ttft_ms=400")
    t = Timeouts(connect_s=1, ttft_s=0.1, idle_s=0.1, total_s=5)
    reply = await caller.open(model_at(fleet.url), Endpoint.CHAT, CHAT, False, t,
                                time.perf_counter())
    assert reply.status == 200 and b"choices" in reply.first


async def test_non_streamed_answer_over_the_total_times_out(fleet, caller):
    fault(fleet, "hang")
    t = Timeouts(connect_s=1, ttft_s=0.1, idle_s=0.1, total_s=0.4)
    with pytest.raises(UpstreamFailure) as failure:
        await caller.open(model_at(fleet.url), Endpoint.CHAT, CHAT, False, t,
                            time.perf_counter())
    assert failure.value.reason == "timeout"
    assert (await closed_upstream(fleet))[0]["state"] == "cancelled"


async def test_refused_connection_is_a_connect_failure(caller):
    from procs import free_port

    t = Timeouts(connect_s=0.5, ttft_s=1, idle_s=1, total_s=2)
    with pytest.raises(UpstreamFailure) as failure:
        await caller.open(model_at(f"http://127.0.0.1:{free_port()}/v1"), Endpoint.CHAT, CHAT,
                            False, t, time.perf_counter())
    assert failure.value.reason == "connect" and failure.value.retryable


# -- through the pipeline: the guarded laneway's completion lane has ttft 1.5 s, idle 0.5 s --

FIM = {"model": "auto", "prompt": "def parse(line):\n    ", "suffix": "\n", "max_tokens": 16}


def test_hung_models_give_504_before_the_first_byte(guarded, upstream, client):
    from conftest import auth, set_fault

    set_fault(upstream, {"hang": True})
    began = time.monotonic()
    r = client.post(guarded.url + "/v1/completions", json=FIM | {"stream": True},
                    headers=auth())
    assert r.status_code == 504, r.text
    assert r.json()["error"]["type"] == "timeout_error"
    # Each completion candidate had its 1.5 s to start, then the next one was tried.
    # (Not streamed, each would have its whole total_s, 4 s: no first token to time.)
    assert time.monotonic() - began < 5


def test_silence_after_the_first_byte_ends_the_stream_with_an_error_event(guarded, upstream,
                                                                         client):
    from conftest import auth, set_fault

    set_fault(upstream, {"ttft_ms": 0, "chunk_delay_ms": 3000})
    r = client.post(guarded.url + "/v1/completions", json=FIM | {"stream": True}, headers=auth())
    assert r.status_code == 200
    events = [line for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1].startswith('data: {"error"') and "data: [DONE]" not in r.text
