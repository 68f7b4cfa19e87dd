"""router/upstreams/http1.py over real sockets when things go wrong: cut connections, invalid HTTP,
timeouts and cancellation (the upstream must see its connection closed), refused connects,
HTTP error statuses through laneway's upstream client. Helpers: http1_kit.py."""

from __future__ import annotations

import asyncio
import time

import pytest
from http1_kit import (
    CHAT,
    JSON,
    WAIT_S,
    RawServer,
    hang_up_seen,
    model_at,
    post,
    reply,
    sending,
    serving,
    stalling,
)

from policies.lanes import Endpoint
from router.upstreams import http1
from router.upstreams.openai import Timeouts, UpstreamFailure

# -- broken answers ---------------------------------------------------------------------------


CUTS = {
    "before the head": b"",
    "mid-head": b"HTTP/1.1 200 OK\r\ncontent-le",
    "mid-body": reply(b"x" * 100)[:-90],
    "mid-chunked-body": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
}


@pytest.mark.parametrize("sent", CUTS.values(), ids=CUTS.keys())
async def test_a_server_closing_before_the_answer_ends_is_a_connection_error(pool, sent):
    async with RawServer(sending(sent)) as server:
        with pytest.raises(ConnectionError) as error:
            await post(pool, server.target())
        assert isinstance(error.value, OSError)  # what laneway's upstream treats as transport
        assert not isinstance(error.value, http1.ProtocolError)  # the bytes were valid HTTP
        assert pool.idle(server.target()) == 0


async def test_a_stream_cut_mid_body_gives_what_arrived_then_a_connection_error(pool):
    async with RawServer(sending(reply(b"0123456789" * 10)[:-90])) as server:
        answer = await post(pool, server.target(), whole=False)
        got = b""
        with pytest.raises(ConnectionError):
            while chunk := await answer.readany():
                got += chunk
        assert got == b"0123456789"


INVALID = {
    "not http": b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    "bad status line": b"HTTP/1.1 abc OK\r\n\r\n",
    "bad chunk size": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("sent", INVALID.values(), ids=INVALID.keys())
async def test_invalid_http_is_a_protocol_error_and_drops_the_connection(pool, sent):
    async with RawServer(stalling(sent)) as server:
        with pytest.raises(http1.ProtocolError):
            await post(pool, server.target())
        await hang_up_seen(server)
        assert pool.idle(server.target()) == 0


# -- timeouts and cancellation: the upstream must see its connection closed ------------------


async def test_a_whole_answer_not_in_within_timeout_s_times_out_and_closes(pool):
    async with RawServer(stalling(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234")) as server:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(TimeoutError):
            await post(pool, server.target(), timeout_s=0.3)
        assert 0.25 <= loop.time() - began < WAIT_S
        await hang_up_seen(server)
        assert pool.idle(server.target()) == 0


async def test_timeout_s_bounds_a_streamed_answer_after_its_head_too(pool):
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n"
    async with RawServer(stalling(head)) as server:
        answer = await post(pool, server.target(), whole=False, timeout_s=0.3)
        # The connection is dropped at the deadline, even with nobody reading just then...
        await hang_up_seen(server)
        # ...and the reader gets what had arrived, then the timeout.
        assert await answer.readany() == b"hello"
        with pytest.raises(TimeoutError):
            await answer.readany()


async def test_cancelling_the_waiting_call_closes_its_connection(pool):
    async with RawServer(stalling()) as server:
        call = asyncio.create_task(post(pool, server.target()))
        # The request is sent without a pause in post(), so by now the call is waiting.
        await asyncio.wait_for(server.requested.wait(), WAIT_S)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await hang_up_seen(server)
        assert pool.idle(server.target()) == 0


async def test_a_callers_own_timeout_around_readany_closes_the_connection(pool):
    # upstream.py bounds each chunk of a stream with asyncio.timeout around readany().
    async with RawServer(stalling(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                         ) as server:
        answer = await post(pool, server.target(), whole=False, timeout_s=None)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await answer.readany()
        await hang_up_seen(server)


# -- connecting -------------------------------------------------------------------------------


async def test_a_refused_connection_is_connect_failed(pool, refused_port):
    target = http1.Target("127.0.0.1", refused_port, "/v1/chat/completions", JSON)
    with pytest.raises(http1.ConnectFailed) as failure:
        await post(pool, target)
    assert isinstance(failure.value, OSError)
    assert f"127.0.0.1:{refused_port}" in str(failure.value)


async def test_a_refused_connection_is_an_upstream_connect_failure(caller, refused_port):
    t = Timeouts(connect_s=1, ttft_s=1, idle_s=1, total_s=2)
    with pytest.raises(UpstreamFailure) as failure:
        await caller.open(model_at(f"http://127.0.0.1:{refused_port}/v1"), Endpoint.CHAT, CHAT,
                          False, t, time.perf_counter())
    assert failure.value.reason == "connect" and failure.value.retryable


# -- HTTP error statuses, through laneway's upstream client ----------------------------------


ERRORS = {
    "429": (reply(b'{"error":{"message":"slow down"}}', "429 Too Many Requests",
                  "retry-after: 7"), 429, "status_429", "7", True),
    "500": (reply(b'{"error":"boom"}', "500 Internal Server Error"), 500, "status_5xx", None,
            True),
    "400": (reply(b'{"error":{"message":"bad field"}}', "400 Bad Request"), 400, "status_4xx",
            None, False),
    # Not followed: a redirect would re-send the body and the key wherever it points.
    "308": (reply(b"", "308 Permanent Redirect", "location: https://elsewhere.example/v1"),
            308, "redirect", None, True),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("sent,status,reason,retry_after,retryable", ERRORS.values(),
                         ids=ERRORS.keys())
async def test_an_error_status_is_an_upstream_failure_and_keeps_the_connection(
        caller, pool, stream, sent, status, reason, retry_after, retryable):
    async with RawServer(serving(sent)) as server:
        t = Timeouts(connect_s=1, ttft_s=WAIT_S, idle_s=WAIT_S, total_s=WAIT_S)
        with pytest.raises(UpstreamFailure) as failure:
            await caller.open(model_at(server.url), Endpoint.CHAT, CHAT | {"stream": stream},
                              stream, t, time.perf_counter())
        f = failure.value
        assert (f.reason, f.status, f.retry_after, f.retryable) == (
            reason, status, retry_after, retryable)
        if reason == "status_4xx":
            assert f.message == "bad field"  # a request error passes on the model's reason
        if reason == "redirect":
            assert "https://elsewhere.example/v1" in f.message  # where to point api_base
        # The error body was read to its end, so the connection serves the next call.
        assert pool.idle(server.target()) == 1


async def test_a_large_error_body_on_a_stream_is_still_an_error_not_a_timeout(caller):
    # Bigger than _PAUSE_AT: the stream pauses reading, and the error body is read whole.
    sent = reply(b'{"error":"' + b"x" * (3 * http1._PAUSE_AT) + b'"}', "503 Unavailable")
    async with RawServer(serving(sent)) as server:
        t = Timeouts(connect_s=1, ttft_s=WAIT_S, idle_s=WAIT_S, total_s=WAIT_S)
        with pytest.raises(UpstreamFailure) as failure:
            await caller.open(model_at(server.url), Endpoint.CHAT, CHAT | {"stream": True}, True,
                              t, time.perf_counter())
        # Not "timeout": reading the body must not stall at the pause.
        assert (failure.value.reason, failure.value.status) == ("status_5xx", 503)
