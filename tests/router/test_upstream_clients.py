"""One upstream client, two transports: the lean HTTP/1.1 client and aiohttp answer the same
edge cases the same way (no redirect followed, compressed bodies decoded, heads bounded, a
whole answer bounded in memory). Helpers: http1_kit.py."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator

import pytest
from http1_kit import CHAT, WAIT_S, RawServer, model_at, reply, serving

from policies.lanes import Endpoint
from router.upstreams import http1
from router.upstreams.openai import OpenAIUpstream, Reply, Timeouts, UpstreamFailure, new_session

T = Timeouts(connect_s=1, ttft_s=WAIT_S, idle_s=WAIT_S, total_s=WAIT_S)
CAP = 64 * 1024


@pytest.fixture(params=["lean", "aiohttp"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[OpenAIUpstream]:
    session = new_session()
    pool = http1.Pool() if request.param == "lean" else None  # None: aiohttp for everything
    try:
        yield OpenAIUpstream(session, pool, max_answer_bytes=CAP)
    finally:
        if pool is not None:
            pool.close()
        await session.close()


async def call(client: OpenAIUpstream, server: RawServer, stream: bool = False) -> Reply:
    return await client.open(model_at(server.url), Endpoint.CHAT, CHAT | {"stream": stream},
                             stream, T, time.perf_counter())


async def test_a_redirect_is_a_failure_that_names_where_it_points(client):
    moved = reply(b"", "307 Temporary Redirect", "location: http://elsewhere.example/v1")
    async with RawServer(serving(moved)) as server:
        with pytest.raises(UpstreamFailure) as failure:
            await call(client, server)
        assert failure.value.reason == "redirect"
        assert "http://elsewhere.example/v1" in failure.value.message
        assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_gzip_body_sent_unasked_is_decoded(client, stream):
    body = b'{"choices": [{"message": {"content": "' + b"ok " * 2000 + b'"}}]}'
    sent = reply(gzip.compress(body), "200 OK", "content-encoding: gzip")
    async with RawServer(serving(sent)) as server:
        r = await call(client, server, stream)
        got = r.first
        if r.rest is not None:
            async for chunk in r.rest:
                got += chunk
        assert got == body
        assert b"accept-encoding" not in server.requests[0].lower()  # none asked for


async def test_an_answer_head_with_too_many_fields_is_refused(client):
    fields = [f"x-field-{i}: {i}" for i in range(http1.MAX_HEADERS + 10)]
    async with RawServer(serving(reply(b"{}", "200 OK", *fields))) as server:
        with pytest.raises(UpstreamFailure) as failure:
            await call(client, server)
        assert failure.value.reason == "transport"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_whole_answer_past_the_bound_is_a_clear_non_retryable_failure(client, framing):
    big = b'{"padding": "' + b"x" * (CAP * 4) + b'"}'
    if framing == "chunked":
        parts = [big[i : i + 8192] for i in range(0, len(big), 8192)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
        sent = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + body
    else:
        sent = reply(big)
    async with RawServer(serving(sent)) as server:
        with pytest.raises(UpstreamFailure) as failure:
            await call(client, server)
        f = failure.value
        assert (f.reason, f.retryable) == ("too_large", False)
        assert str(CAP) in f.message and "max_answer_bytes" in f.message
    small = reply(b'{"padding": "' + b"x" * (CAP // 2) + b'"}')
    async with RawServer(serving(small)) as server:
        assert len((await call(client, server)).first) > CAP // 2
