"""router/upstreams/http1.py over real sockets: answers, keep-alive, how bodies end, which idle
connections are reused, the request head, backpressure. Helpers: http1_kit.py; fixtures:
conftest.py. Failures (cuts, invalid HTTP, timeouts, refused connects, error statuses) are
in test_http1_faults.py."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest
from http1_kit import (
    BODY,
    CHAT,
    WAIT_S,
    Peer,
    RawServer,
    fleet_target,
    hang_up_seen,
    post,
    read_stream,
    reply,
    sending,
    serving,
    until,
)

from router.upstreams import http1

# -- ordinary answers from the fleet --------------------------------------------------------


async def test_a_whole_answer_has_status_headers_and_json_and_keeps_its_connection(fleet_app, pool):
    target = fleet_target(fleet_app)
    for _ in range(2):
        answer = await post(pool, target)
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/json"
        assert orjson.loads(await answer.read())["choices"][0]["message"]["content"]
        answer.release()
        # Back in the pool once whole, and never two of them: the second call took it.
        # (Counting accepted connections, the raw-server test below pins the reuse down.)
        assert pool.idle(target) == 1
    assert [e["state"] for e in fleet_app.state.entries({})] == ["done", "done"]


async def test_a_streamed_answer_arrives_in_chunks_then_ends_and_frees_its_connection(
        fleet_app, pool):
    target = fleet_target(fleet_app)
    answer = await pool.post(target, orjson.dumps(CHAT | {"stream": True}), whole=False,
                             connect_s=WAIT_S)
    # post() returns at the head, long before the fleet's first token.
    assert answer.status == 200 and answer.headers["content-type"] == "text/event-stream"
    assert pool.idle(target) == 0  # still reading: not to be lent to another call
    chunks = []
    while chunk := await answer.readany():
        chunks.append(chunk)
    text = b"".join(chunks).decode()
    assert len(chunks) > 1 and text.startswith("data: {") and text.endswith("data: [DONE]\n\n")
    assert await answer.readany() == b""  # the end stays the end
    assert pool.idle(target) == 1


# -- keep-alive and the bytes on the wire ---------------------------------------------------


async def test_the_request_is_sent_exactly_and_one_connection_serves_calls_in_turn(pool):
    async with RawServer(serving(reply(b'{"ok":1}'))) as server:
        for _ in range(3):
            answer = await post(pool, server.target())
            assert await answer.read() == b'{"ok":1}'
        assert server.accepted == 1
        # No Accept-Encoding: servers answer uncompressed, which is all this client reads.
        assert server.requests == [
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"content-type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n".encode()
            + BODY
        ] * 3


async def test_concurrent_calls_each_get_their_own_connection(pool):
    finish = asyncio.Event()

    async def script(peer: Peer) -> None:  # keep-alive; each body waits for `finish`
        while True:
            await peer.request()
            await peer.send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
            await finish.wait()
            await peer.send(b"{}")

    async with RawServer(script) as server:
        # The first answer is still open when the second call is made: one request at a
        # time per connection.
        first = await post(pool, server.target(), whole=False)
        second = await post(pool, server.target(), whole=False)
        finish.set()
        assert [await read_stream(first), await read_stream(second)] == [b"{}", b"{}"]
        assert server.accepted == 2 and pool.idle(server.target()) == 2


# -- how bodies end ---------------------------------------------------------------------------


async def test_a_chunked_body_is_decoded_and_its_connection_kept(pool):
    chunked = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    async with RawServer(serving(chunked)) as server:
        answer = await post(pool, server.target())
        assert (answer.status, await answer.read()) == (200, b"hello world")
        assert pool.idle(server.target()) == 1


async def test_a_body_without_length_ends_when_the_server_closes(pool):
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nfirst part, ")
        await peer.send(b"second part")  # then the server closes: that is the end

    async with RawServer(script) as server:
        answer = await post(pool, server.target(), whole=False)
        assert await read_stream(answer) == b"first part, second part"
        assert pool.idle(server.target()) == 0  # a closed connection cannot serve again


async def test_a_connection_close_answer_is_closed_by_the_client_not_pooled(pool):
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(reply(b'{"ok":1}', "200 OK", "connection: close"))
        await peer.until_hung_up()  # the server leaves the closing to the client

    async with RawServer(script) as server:
        answer = await post(pool, server.target())
        assert await answer.read() == b'{"ok":1}'
        assert pool.idle(server.target()) == 0
        await hang_up_seen(server)
        await post(pool, server.target())
        assert server.accepted == 2


# -- which idle connections are reused ------------------------------------------------------


async def test_idle_connections_are_reused_until_idle_s_then_replaced():
    now = 1000.0
    pool = http1.Pool(clock=lambda: now)
    try:
        async with RawServer(serving(reply(b"{}"))) as server:
            await post(pool, server.target())
            now += http1.IDLE_S - 0.1
            await post(pool, server.target())
            assert server.accepted == 1  # idle just under IDLE_S: reused
            now += http1.IDLE_S + 0.1
            await post(pool, server.target())
            assert server.accepted == 2  # idle past IDLE_S: a new connection
            assert pool.idle(server.target()) == 1  # and the stale one was let go
    finally:
        pool.close()


async def test_a_connection_the_server_closed_while_idle_is_not_reused(pool):
    async with RawServer(sending(reply(b'{"n":1}'))) as server:  # closes after one answer
        target = server.target()
        assert await (await post(pool, target)).read() == b'{"n":1}'
        (conn,) = pool._idle[target.key]
        await until(lambda: conn.closed)  # the pool has seen the server's close
        answer = await post(pool, target)  # would fail, written into the closed one
        assert await answer.read() == b'{"n":1}' and server.accepted == 2


# -- the request head ------------------------------------------------------------------------


@pytest.mark.parametrize("path,headers", [
    ("/v1/chat/completions", {"authorization": "Bearer k\r\nx-injected: 1"}),
    ("/v1/chat/completions", {"x-key": "a\nb"}),
    ("/v1/chat/completions", {"x-key": "a\0b"}),
    ("/v1/chat\r\n/completions", {}),
])
def test_a_target_refuses_line_breaks_in_its_request_head(path, headers):
    with pytest.raises(ValueError):
        http1.Target("127.0.0.1", 8000, path, headers)


def test_an_ipv6_host_is_bracketed_in_the_host_header():
    target = http1.Target("::1", 8000, "/v1/embeddings", {"x-a": "b"})
    assert target.head == (b"POST /v1/embeddings HTTP/1.1\r\nHost: [::1]:8000\r\nx-a: b\r\n"
                           b"Content-Length: ")
    assert target.key == ("::1", 8000)


# -- backpressure ----------------------------------------------------------------------------


async def test_an_unread_stream_pauses_past_pause_at_and_resumes_when_read(pool):
    body = os.urandom(4 * http1._PAUSE_AT)
    async with RawServer(serving(reply(body))) as server:
        answer = await post(pool, server.target(), whole=False)
        conn = answer._conn
        assert conn is not None and conn.transport is not None
        transport = conn.transport
        await until(lambda: not transport.is_reading())
        # What had arrived when reading paused: over the threshold, far from the whole body.
        first = await answer.readany()
        assert http1._PAUSE_AT < len(first) < 2 * http1._PAUSE_AT
        assert transport.is_reading()  # reading it resumed the socket
        assert first + await read_stream(answer) == body
        assert pool.idle(server.target()) == 1


async def test_a_connection_paused_by_the_end_of_an_answer_reads_the_next_one(pool):
    # The body's last byte crosses _PAUSE_AT, in the same read that completes the answer.
    body = os.urandom(http1._PAUSE_AT + 1)
    async with RawServer(serving(reply(body), reply(b'{"next":1}'))) as server:
        answer = await post(pool, server.target(), whole=False)
        await until(lambda: pool.idle(server.target()) == 1)  # complete, not yet read
        assert await read_stream(answer) == body
        following = await post(pool, server.target(), timeout_s=1.0)
        assert await following.read() == b'{"next":1}' and server.accepted == 1
