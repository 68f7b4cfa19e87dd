"""router/http1.py, laneway's lean keep-alive HTTP/1.1 client, over real sockets.

Ordinary answers come from the in-process fleet. The edge cases (chunked and close-delimited
bodies, cut connections, invalid HTTP, stalls, error statuses) come from small raw servers in
this file that send exact bytes and record what they see: connections accepted, requests
read, and clients hanging up, which is how an upstream learns to stop generating.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import orjson
import pytest

from fleet.profiles import FleetSettings
from fleet.server import FleetServer, start
from policies.catalog import ModelSpec, Tier
from policies.lanes import Endpoint
from router import http1
from router.upstream import OpenAIUpstream, Timeouts, UpstreamFailure

WAIT_S = 5.0  # the bound on waiting for anything that should happen promptly
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Explain Python decorators."}]}
BODY = orjson.dumps(CHAT)
JSON = {"content-type": "application/json"}


# -- raw servers ---------------------------------------------------------------------------


class Peer:
    """One connection a RawServer accepted, seen from the server's side."""

    def __init__(self, server: RawServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.server, self.reader, self.writer = server, reader, writer

    async def request(self) -> bytes:
        """The next request, head and body as sent (IncompleteReadError once the client
        has hung up, which ends the script)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: *(\d+)\r\n", head, re.IGNORECASE)
        data = head + (await self.reader.readexactly(int(length[1])) if length else b"")
        self.server.requests.append(data)
        self.server.requested.set()
        return data

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_hung_up(self) -> None:
        """Wait for the client to close this connection: end of stream, or a reset."""
        try:
            while await self.reader.read(1 << 16):
                pass
        except ConnectionError:
            pass
        self.server.hung_up.set()


Script = Callable[[Peer], Awaitable[None]]


class RawServer:
    """Runs `script` on each connection it accepts, then closes that connection."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.accepted = 0
        self.requests: list[bytes] = []
        self.requested = asyncio.Event()  # a request has been read
        self.hung_up = asyncio.Event()  # a client closed a connection the script waited on
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port: int = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        # Dropping the connections ends every script at its next read or write, and a
        # script's own failure surfaces here.
        for writer in self._writers:
            writer.transport.abort()
        async with asyncio.timeout(WAIT_S):
            await asyncio.gather(*self._tasks)
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def target(self) -> http1.Target:
        return http1.Target("127.0.0.1", self.port, "/v1/chat/completions", JSON)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            await self.script(Peer(self, reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client hung up: the ordinary end of a keep-alive script
        finally:
            writer.close()
            self._tasks.discard(task)
            self._writers.discard(writer)


def reply(body: bytes, status: str = "200 OK", *headers: str) -> bytes:
    """An answer with a Content-Length."""
    head = [f"HTTP/1.1 {status}", "content-type: application/json",
            f"content-length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def serving(*answers: bytes) -> Script:
    """Keep-alive: each request on a connection gets the next answer, the last one repeated."""
    async def script(peer: Peer) -> None:
        for i in range(1 << 30):
            await peer.request()
            await peer.send(answers[min(i, len(answers) - 1)])
    return script


def sending(data: bytes) -> Script:
    """Reads one request, sends `data`, then closes the connection."""
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(data)
    return script


def stalling(data: bytes = b"") -> Script:
    """Reads one request, sends `data`, then sends nothing more until the client hangs up."""
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(data)
        await peer.until_hung_up()
    return script


async def until(condition: Callable[[], bool]) -> None:
    """Wait, bounded, for something the event loop makes true without an event to await."""
    async with asyncio.timeout(WAIT_S):
        while not condition():
            await asyncio.sleep(0)  # yield to the loop; no fixed delay


async def hang_up_seen(server: RawServer) -> None:
    await asyncio.wait_for(server.hung_up.wait(), WAIT_S)


async def read_stream(answer: http1.Answer) -> bytes:
    """A streamed answer read to its end with readany()."""
    data = b""
    while chunk := await answer.readany():
        data += chunk
    return data


async def post(pool: http1.Pool, target: http1.Target, *, whole: bool = True,
               timeout_s: float | None = WAIT_S) -> http1.Answer:
    return await pool.post(target, BODY, whole=whole, connect_s=WAIT_S, timeout_s=timeout_s)


@pytest.fixture
async def pool() -> AsyncIterator[http1.Pool]:
    pool = http1.Pool()
    yield pool
    pool.close()


@pytest.fixture
async def fleet() -> AsyncIterator[FleetServer]:
    async with await start(FleetSettings()) as server:
        yield server


@pytest.fixture
async def caller(pool: http1.Pool) -> AsyncIterator[OpenAIUpstream]:
    """The upstream client with the lean pool, as laneway calls plain-HTTP models."""
    async with aiohttp.ClientSession() as session:  # only for https://, unused here
        yield OpenAIUpstream(session, pool)


def model_at(base: str) -> ModelSpec:
    return ModelSpec("m", base, "openai", "m", Tier.SMALL, frozenset({"qa"}), 32768, 0, 0, None)


def fleet_target(fleet: FleetServer) -> http1.Target:
    return http1.Target(fleet.host, fleet.port, "/v1/chat/completions", JSON)


# -- ordinary answers from the fleet --------------------------------------------------------


async def test_a_whole_answer_has_status_headers_and_json_and_keeps_its_connection(fleet, pool):
    target = fleet_target(fleet)
    for _ in range(2):
        answer = await post(pool, target)
        assert answer.status == 200
        assert answer.headers["content-type"] == "application/json"
        assert orjson.loads(await answer.read())["choices"][0]["message"]["content"]
        answer.release()
        # Back in the pool once whole, and never two of them: the second call took it.
        # (Counting accepted connections, the raw-server test below pins the reuse down.)
        assert pool.idle(target) == 1
    assert [e["state"] for e in fleet.state.entries({})] == ["done", "done"]


async def test_a_streamed_answer_arrives_in_chunks_then_ends_and_frees_its_connection(
        fleet, pool):
    target = fleet_target(fleet)
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


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


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
