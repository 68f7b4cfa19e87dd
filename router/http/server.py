"""uvicorn's httptools protocol with one socket write per response instead of two, and a
cap on request headers.

uvicorn writes a response's status line and headers as soon as the app sends
`http.response.start`, then the body in a second write. On loopback (and on this VM
especially) the first write of a response is the dear one: it wakes the client, and the
second pays its own system call right after. Here a connection's writes are held and
joined: an answer goes out in one write, head and body together, the moment it is complete
(uvicorn's `on_response_complete`, before it reads on), and whatever is still held at the
end of a turn of the event loop goes out then: a stream's head and chunks leave as they
come, one write per turn at most.

Nothing waits longer than the current turn; `close()` writes out what is held first, so a
`Connection: close` answer is never cut.

Headers: httptools sets no limit of its own, so a client could send megabytes of headers
(or thousands of them), all held in memory before the app ever sees the request. Here the
head's bytes are counted as they arrive (a head still unfinished past the cap is refused
after that read) and its headers as they are parsed (their sizes and count); past
MAX_HEADER_BYTES or MAX_HEADERS the answer is 431 and the connection closes, before any
more of it is read.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 32 * 1024  # the request line and every header, as Node's 16 KiB twice
MAX_HEADERS = 128
_LINGER_S = 2.0  # after a 431, how long the rest of the request is read and dropped


def _too_large(anthropic: bool) -> bytes:
    message = (f"Request headers exceed {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields; "
               "send fewer or shorter headers.")
    body = orjson.dumps(
        {"type": "error", "error": {"type": "request_too_large", "message": message}}
        if anthropic else
        {"error": {"message": message, "type": "invalid_request_error", "param": None,
                   "code": "request_header_fields_too_large"}}
    )
    return (b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json"
            b"\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))


class _HeadRefused(Exception):
    """Stops the parser once a request's head is refused."""


class TurnWriter:
    """A transport whose writes within one turn of the loop become one write of the real
    transport. Everything else is the real transport's."""

    __slots__ = ("_loop", "_out", "_real")

    def __init__(self, real: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._real, self._loop = real, loop
        self._out: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._out:
            self._loop.call_soon(self.flush)
        self._out.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write out what is held, now (also run at the end of the turn that held it)."""
        out = self._out
        if not out:
            return
        self._out = []
        if not self._real.is_closing():
            self._real.write(out[0] if len(out) == 1 else b"".join(out))

    def get_write_buffer_size(self) -> int:
        return self._real.get_write_buffer_size() + sum(map(len, self._out))

    def close(self) -> None:
        self.flush()
        self._real.close()

    def write_eof(self) -> None:
        self.flush()
        self._real.write_eof()

    def abort(self) -> None:
        self._out = []
        self._real.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, pause_reading, get_extra_info...
        return getattr(self._real, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """`uvicorn.run(..., http=OneWriteHttpToolsProtocol)`: the stock protocol on a
    `TurnWriter`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head = 0  # bytes of the current request's head so far; -1: head complete
        self._fields = self._parsed = 0  # the current head's headers, and their bytes
        self._refused = False
        super().connection_made(TurnWriter(transport, self.loop))  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._head >= 0:
            self._head += len(data)
        super().data_received(data)
        if self._head > MAX_HEADER_BYTES:  # still in the head after this read: refuse it
            self._refuse_head()

    def on_message_begin(self) -> None:
        self._fields = self._parsed = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._parsed += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        self._parsed += len(name) + len(value) + 4  # ": " and CRLF
        if self._fields > MAX_HEADERS or self._parsed > MAX_HEADER_BYTES:
            self._refuse_head()
            raise _HeadRefused  # the parser stops here; uvicorn's 400 is skipped below
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head = -1
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head = 0  # a kept-alive connection's next request starts its own head

    def send_400_response(self, msg: str) -> None:
        if not self._refused:  # a refused head already has its answer
            super().send_400_response(msg)

    def _refuse_head(self) -> None:
        if self._refused:
            return
        self._refused = True
        url = getattr(self, "url", b"") or b""
        transport = self.transport
        transport.write(_too_large(b"/messages" in url[:64]))
        # Half-close, read and drop what still comes, close a little later: closing with
        # unread bytes would send a reset that can destroy the answer before it is read.
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(_LINGER_S, transport.close)

    def on_response_complete(self) -> None:
        # The answer is whole: out now, not at the end of the turn. uvicorn reads on from
        # here (the rest of a refused upload, the next request), and a client still sending
        # a body it was refused should hear so before more of it is read.
        transport = self.transport
        if isinstance(transport, TurnWriter):
            transport.flush()
        super().on_response_complete()
