"""A lean HTTP/1.1 client for plain `http://` upstreams: keep-alive connections per host,
answers parsed by httptools (llhttp, the parser uvicorn already runs for laneway's clients).

Why not aiohttp here: self-hosted models (vLLM, SGLang, Ollama, the fleet) are called over
plain HTTP on the LAN for every keystroke's completion, and aiohttp's client spent 86 µs
of CPU per call at 16 concurrent calls and 187 µs at one (tracing hooks, cookie jar, timer
contexts, its stream reader); this client spends 38 / 65 µs on the same calls
(`python -m loadtests.bench.clients`). `https://` upstreams (hosted APIs, where the network
dominates) stay on aiohttp: router/upstreams/openai.py picks the client per model.

What it does and does not do:
- One request at a time per connection; idle connections are reused newest first and
  dropped once idle for `IDLE_S` (under uvicorn's default keep-alive of 5 s, so laneway
  lets go of a connection before a server that closes it, which avoids most of the race
  of writing into a connection the server is closing; a call that still loses that race,
  closed before a byte of its answer came back, is sent once more on a new connection).
- Interim answers (1xx) are skipped: the final answer follows on the same connection.
  Bytes after an answer that nobody asked for discard the connection, so they can never
  be read as the next request's answer.
- Bodies by Content-Length, chunked (decoded by llhttp) or until the server closes.
- No redirects, cookies or proxies. It asks for no compression (no Accept-Encoding); a body
  compressed anyway (gzip, deflate) is decoded, as aiohttp does; other codings are an error.
- Answer heads are bounded like aiohttp's: at most MAX_HEADERS fields of MAX_FIELD_SIZE.
- Whoever stops reading an answer early (timeout, cancelled request) closes it, which
  drops the connection: that is how the upstream learns to stop generating.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from typing import cast

import httptools

IDLE_S = 4.0
# An answer's head, bounded as aiohttp bounds it (router/upstreams/openai.py sets the same).
MAX_HEADERS = 100
MAX_FIELD_SIZE = 8190
# Bodies compressed although laneway asks for none (it sends no Accept-Encoding): decoded.
_DECODERS = {"gzip": 31, "x-gzip": 31, "deflate": 15}
_PAUSE_AT = 1 << 20  # a stream's unread bytes before reading from the socket pauses


class ConnectFailed(OSError):
    """No connection could be opened to the upstream."""


class ProtocolError(ConnectionError):
    """The upstream's bytes were not HTTP/1.1."""


class TooLarge(Exception):
    """A whole answer grew past the caller's `max_bytes`: dropped, with its connection."""


class Target:
    """Where to POST: host, port and the request head up to the Content-Length value."""

    __slots__ = ("head", "host", "key", "port")

    def __init__(self, host: str, port: int, path: str, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.key = (host, port)
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"POST {path} HTTP/1.1", f"Host: {netloc}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if any(c in line for line in lines for c in "\r\n\0"):
            raise ValueError("an upstream URL or header holds a line break")
        self.head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")


class Answer:
    """One upstream answer; the subset of aiohttp's ClientResponse that laneway uses."""

    __slots__ = ("_chunks", "_conn", "_done", "_error", "_max", "_pool", "_size", "_timer",
                 "_waiter", "_whole", "headers", "status")

    def __init__(self, conn: _Conn, pool: Pool, whole: bool, max_bytes: int = 0) -> None:
        self._conn: _Conn | None = conn
        self._pool = pool
        self._whole = whole  # the first waiter wakes only once the answer is complete
        self._waiter: asyncio.Future[None] | None = None
        self._chunks: list[bytes] = []
        self._size = 0
        self._max = max_bytes  # for a whole answer; 0: no bound
        self._done = False
        self._error: BaseException | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.status = 0
        self.headers: dict[str, str] = {}

    @property
    def content(self) -> Answer:
        return self  # aiohttp's `resp.content.readany()`

    # -- fed by the connection ------------------------------------------------------------

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            if self._error is not None:
                w.set_exception(self._error)
            else:
                w.set_result(None)

    def _head_done(self, status: int) -> None:
        self.status = status
        if not self._whole:
            self._wake()

    def _body(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._max and self._size > self._max and self._whole:
            self._chunks.clear()
            self._fail(TooLarge(f"the answer is larger than {self._max} bytes"))
            return
        if not self._whole:
            if self._size > _PAUSE_AT and self._conn is not None:
                self._conn.pause()
            self._wake()

    def _complete(self, keep_alive: bool) -> None:
        self._done = True
        if self._timer is not None:
            self._timer.cancel()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.answer = None
            if keep_alive:
                conn.resume()  # paused if the answer ended past _PAUSE_AT unread
                self._pool.put(conn)
            else:
                conn.close()
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if self._done or self._error is not None:
            return
        self._error = exc
        if self._timer is not None:
            self._timer.cancel()
        self.close()
        self._wake()

    def _expire(self, timeout_s: float) -> None:
        self._fail(TimeoutError(f"no whole answer within {timeout_s:g} s"))

    # -- read by the caller ---------------------------------------------------------------

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        conn = self._conn
        if conn is None:
            raise ConnectionError("answer closed")
        self._waiter = conn.loop.create_future()
        try:
            await self._waiter
        except BaseException:
            self.close()  # cancelled or failed while waiting: the connection cannot be reused
            raise
        finally:
            self._waiter = None

    async def read(self) -> bytes:
        """The whole body."""
        if not self._done and self._conn is not None:
            # Nothing to hold back for a caller who waits for the end: a stream paused at
            # _PAUSE_AT would otherwise wait for bytes it no longer reads.
            self._whole = True
            self._conn.resume()
        while not self._done:
            await self._wait()
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data

    async def readany(self) -> bytes:
        """What has arrived since the last read (waiting for something), b"" at the end."""
        while not self._chunks and not self._done:
            await self._wait()
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._size = 0
        if self._conn is not None:
            self._conn.resume()
        return data

    def release(self) -> None:
        """Done with the answer: a finished one has already given its connection back; an
        unfinished one cannot be reused."""
        if not self._done:
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.answer = None
            conn.close()
        if self._timer is not None:
            self._timer.cancel()


class _Conn(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[str, int]) -> None:
        self.loop = loop
        self.key = key  # the pool's (host, port)
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.answer: Answer | None = None
        self.idle_since = 0.0
        self.closed = False
        self._paused = False
        self._until_eof = False
        self._interim = False  # inside a 1xx answer, which a final answer follows
        self.received = False  # any bytes since the request went out
        self._fields = 0  # header fields of the answer being read
        self._decoder: zlib._Decompress | None = None  # a compressed body's

    # -- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's: not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.answer is None:  # bytes nobody asked for: the connection is out of step
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.answer is not None:
                self.answer._fail(ProtocolError(f"upstream sent invalid HTTP: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        answer, self.answer = self.answer, None
        if answer is None:
            return
        if self._until_eof and answer.status:  # a body that ends when the server closes
            answer._complete(keep_alive=False)
        else:
            answer._fail(ConnectionError("upstream closed the connection before the answer ended"))

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.answer is None:
            # Bytes after the answer, in the same read: nobody asked for them, and left in
            # the parser they would become the next request's answer. Stops the parse.
            self.close()
            raise ProtocolError("upstream sent bytes after its answer")

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.answer is not None
        self._fields += 1
        if self._fields > MAX_HEADERS or len(name) + len(value) > MAX_FIELD_SIZE:
            raise ProtocolError("upstream sent too many or too large header fields")
        self.answer.headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        assert self.answer is not None
        status = self.parser.get_status_code()
        self._fields = 0
        if 100 <= status < 200:  # interim (100 Continue, 103 Early Hints): the final one follows
            self._interim = True
            self.answer.headers = {}
            return
        h = self.answer.headers
        self._until_eof = "content-length" not in h and "transfer-encoding" not in h
        coding = h.get("content-encoding")
        self._decoder = None
        if coding is not None and coding.lower() != "identity":
            wbits = _DECODERS.get(coding.strip().lower())
            if wbits is None:
                raise ProtocolError(f"upstream sent an unsupported content-encoding: {coding!r}")
            self._decoder = zlib.decompressobj(wbits)
        self.answer._head_done(status)

    def on_body(self, body: bytes) -> None:
        answer = self.answer
        if answer is None:  # dropped for its size in this very read
            return
        if self._decoder is not None:
            try:
                body = self._decoder.decompress(body)
            except zlib.error as exc:
                raise ProtocolError(f"upstream sent a body that does not decode: {exc}") from None
            if not body:
                return
        answer._body(body)

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        answer = self.answer
        if self._decoder is not None and answer is not None:
            rest, self._decoder = self._decoder.flush(), None
            if rest:
                answer._body(rest)
        if answer is not None:
            answer._complete(self.parser.should_keep_alive() and not self.closed)

    # -- used by Answer and Pool -------------------------------------------------------------

    def send(self, answer: Answer, data: bytes) -> None:
        assert self.transport is not None
        self.answer = answer
        self._until_eof = False
        self.transport.write(data)

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Keep-alive connections per (host, port), no limit on their number (as aiohttp's
    connector is configured in router/upstreams/openai.py)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._clock = clock

    def put(self, conn: _Conn) -> None:
        conn.idle_since = self._clock()
        self._idle.setdefault(conn.key, []).append(conn)

    def idle(self, target: Target) -> int:
        return len(self._idle.get(target.key, ()))

    async def _conn(self, target: Target, connect_s: float, fresh: bool) -> tuple[_Conn, bool]:
        """A connection, and whether it was reused (newest idle one first) rather than new."""
        idle = None if fresh else self._idle.get(target.key)
        if idle:
            too_old = self._clock() - IDLE_S
            while idle:
                conn = idle.pop()
                if not conn.closed and conn.idle_since > too_old:
                    return conn, True
                conn.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(connect_s):
                _, conn = await loop.create_connection(
                    lambda: _Conn(loop, target.key), target.host, target.port
                )
        except OSError as exc:
            raise ConnectFailed(exc.errno, f"cannot connect to {target.host}:{target.port}: "
                                f"{exc.strerror or exc}") from None
        return conn, False

    async def post(
        self, target: Target, body: bytes, *, whole: bool, connect_s: float,
        timeout_s: float | None = None, max_bytes: int = 0,
    ) -> Answer:
        """Send `body`; return once the answer's head is in (the whole answer when `whole`).
        `timeout_s` bounds sending and the whole answer (TimeoutError); `max_bytes`, what a
        whole answer may hold (TooLarge).

        A reused connection that the server closed before a byte of the answer came back
        was closed as it idled (the race every keep-alive client has): the request goes
        once more on a new connection, so a healthy upstream is not taken for a failing one."""
        wire = b"".join((target.head, b"%d\r\n\r\n" % len(body), body))
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        conn, reused = await self._conn(target, connect_s, fresh=False)
        while True:
            answer = Answer(conn, self, whole, max_bytes)
            if deadline is not None and timeout_s is not None:
                answer._timer = loop.call_later(
                    max(0.0, deadline - loop.time()), answer._expire, timeout_s
                )
            conn.received = False
            conn.send(answer, wire)
            try:
                while not (answer._done if whole else answer.status):
                    await answer._wait()
            except ConnectionError as exc:
                if not reused or conn.received or isinstance(exc, ProtocolError):
                    raise
                conn, reused = await self._conn(target, connect_s, fresh=True)
                continue
            return answer

    def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
