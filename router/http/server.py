"""uvicorn's httptools protocol with one socket write per response instead of two.

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
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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
        super().connection_made(TurnWriter(transport, self.loop))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        # The answer is whole: out now, not at the end of the turn. uvicorn reads on from
        # here (the rest of a refused upload, the next request), and a client still sending
        # a body it was refused should hear so before more of it is read.
        transport = self.transport
        if isinstance(transport, TurnWriter):
            transport.flush()
        super().on_response_complete()
