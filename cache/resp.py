"""A lean Redis connection for the request path: RESP2 over one socket, parsed by hiredis.

Why not redis-py here: a GET through its asyncio client (pool checkout, command packing,
the deadline task the store needs around it) cost ~280 µs of CPU per call on this machine,
the same GET on this connection ~80 µs, most of it the socket's own system calls
(`make bench`, docs/benchmarks.md). Every cacheable miss pays one GET, so that difference
is a tenth of laneway's cost per request.

What it does and does not do:
- Commands are pipelined on one connection and replies matched first-in, first-out, which
  is how Redis answers. A caller that stopped waiting (deadline, cancelled request) leaves
  its slot in the queue, so its late reply is read and dropped: it can never be handed to
  the next caller. (Stored values also name their key: `StoredAnswer.to_bytes`.)
- A deadline is a timer on the reply's future, not a task: `request(..., timeout_s)`.
- Commands issued in the same turn of the event loop go out in one write (`_send`).
- A lost connection fails every waiting reply at once (`ConnectionError`) and stays
  closed; whoever owns it (cache/redis_store.py's prober) opens a new one.
- Plain `redis://` and `unix://` only, with AUTH and SELECT from the URL. TLS (`rediss://`)
  and clusters go through redis-py (`lean_target` returns None for them); cache/redis_layer.py
  picks the transport, and nothing else in laneway opens this connection itself.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import hiredis
from redis.asyncio.connection import SSLConnection, parse_url


@dataclass(frozen=True)
class Target:
    host: str = "localhost"
    port: int = 6379
    path: str | None = None  # a unix socket
    username: str | None = None
    password: str | None = None
    db: int = 0


def lean_target(url: str) -> Target | None:
    """Where a plain `redis://` / `unix://` URL points; None for what needs redis-py (TLS)."""
    try:
        parts = parse_url(url)
    except ValueError:
        return None
    if parts.get("connection_class") is SSLConnection:
        return None
    return Target(
        host=str(parts.get("host") or "localhost"), port=int(parts.get("port") or 6379),
        path=parts.get("path"), username=parts.get("username"),
        password=parts.get("password"), db=int(parts.get("db") or 0),
    )


def command(*args: bytes) -> bytes:
    """One command in RESP's wire form (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class _Batch:
    """Collects the replies of a pipelined batch; its future gets them all, or the first
    error reply as an exception."""

    __slots__ = ("future", "left", "raise_on_error", "replies")

    def __init__(
        self, future: asyncio.Future[list[Any]], n: int, raise_on_error: bool = True
    ) -> None:
        self.future, self.left, self.raise_on_error = future, n, raise_on_error
        self.replies: list[Any] = []

    def take(self, reply: Any) -> None:
        self.left -= 1
        self.replies.append(reply)
        if self.left == 0 and not self.future.done():
            errors = [r for r in self.replies if isinstance(r, hiredis.ReplyError)]
            if errors and self.raise_on_error:
                self.future.set_exception(errors[0])
            else:
                self.future.set_result(self.replies)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class RespConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._waiting: deque[asyncio.Future[Any] | _Batch] = deque()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []  # written at the end of this turn of the loop
        self._loop = asyncio.get_running_loop()
        self.closed = False

    @classmethod
    async def open(cls, target: Target, timeout_s: float) -> RespConnection:
        """Connected, authenticated and on the URL's database within `timeout_s`, or raises."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout_s):
            if target.path:
                _, conn = await loop.create_unix_connection(cls, target.path)
            else:
                _, conn = await loop.create_connection(cls, target.host, target.port)
        try:
            setup = []
            if target.password is not None:
                user = (target.username.encode(),) if target.username else ()
                setup.append((b"AUTH", *user, target.password.encode()))
            if target.db:
                setup.append((b"SELECT", str(target.db).encode()))
            if setup:
                await conn.pipeline(setup, timeout_s)
        except BaseException:
            conn.close()
            raise
        return conn

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's: not a subclass

    def data_received(self, data: bytes) -> None:
        reader, waiting = self._reader, self._waiting
        reader.feed(data)
        while (reply := reader.gets()) is not False:
            if not waiting:  # a reply nobody asked for: the stream is out of step
                self.close()
                return
            slot = waiting[0]
            if isinstance(slot, _Batch):
                slot.take(reply)
                if slot.left == 0:
                    waiting.popleft()
                continue
            waiting.popleft()
            if slot.done():  # its caller stopped waiting: the late reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                slot.set_exception(reply)
            else:
                slot.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._transport = None
        lost = ConnectionError(f"Redis connection lost ({exc or 'closed'})")
        while self._waiting:
            slot = self._waiting.popleft()
            if isinstance(slot, _Batch):
                slot.fail(lost)
            elif not slot.done():
                slot.set_exception(lost)

    # -- commands -----------------------------------------------------------------------------

    def request(self, wire: bytes, timeout_s: float) -> asyncio.Future[Any]:
        """Send one command already in wire form (`command(...)`); its reply's future fails
        with TimeoutError at the deadline (the reply, if it comes later, is dropped)."""
        future = self._loop.create_future()
        if self._transport is None or self.closed:
            future.set_exception(ConnectionError("Redis connection closed"))
            return future
        self._send(wire)
        self._waiting.append(future)
        timer = self._loop.call_later(timeout_s, _expire, future, timeout_s)
        future.add_done_callback(lambda _: timer.cancel())
        return future

    async def pipeline(
        self, commands: Sequence[tuple[bytes, ...]], timeout_s: float, raise_on_error: bool = True
    ) -> list[Any]:
        """Several commands in one write; their replies in order, or the first error reply
        raised (unless not `raise_on_error`: then error replies stand in their places).
        TimeoutError after `timeout_s` (later replies are read and dropped)."""
        if not commands:
            return []
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        if self._transport is None or self.closed:
            raise ConnectionError("Redis connection closed")
        batch = _Batch(future, len(commands), raise_on_error)
        self._send(b"".join(command(*c) for c in commands))
        self._waiting.append(batch)  # one slot, held until all its replies are in
        timer = self._loop.call_later(timeout_s, _expire, future, timeout_s)
        try:
            return await future
        finally:
            timer.cancel()

    def _send(self, wire: bytes) -> None:
        """Queue bytes for the socket; they go out as one write at the end of this turn of the
        loop: under load the GETs of many requests share one system call (a write to the
        socket is most of a GET's cost) and none waits longer than the current turn."""
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(wire)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self._transport is not None and out:
            self._transport.write(b"".join(out))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()  # connection_lost fails whoever still waits
        self.closed = True


def _expire(future: asyncio.Future[Any], timeout_s: float) -> None:
    if not future.done():
        future.set_exception(TimeoutError(f"no answer within {timeout_s * 1000:.0f} ms"))
