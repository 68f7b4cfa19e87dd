"""One write per response: what `laneway serve`'s HTTP protocol puts on the socket."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from router.http.server import OneWriteHttpToolsProtocol

BODY = b'{"ok": true}'


async def plain(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})


async def streamed(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/event-stream")]})
    for i in range(3):
        await send({"type": "http.response.body", "body": b"data: %d\n\n" % i,
                    "more_body": True})
        await asyncio.sleep(0)  # each chunk in a turn of its own, as an upstream's would be
    await send({"type": "http.response.body", "body": b""})


class Recorder(asyncio.Transport):
    """The socket's side: every write the protocol makes, and when it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.events: list[str] = []
        self.closed = False
        self.done = asyncio.Event()

    def write(self, data: Any) -> None:
        assert not self.closed, "a write after close"
        self.writes.append(bytes(data))
        self.events.append("write")
        if b"".join(self.writes).endswith((BODY, b"0\r\n\r\n")):
            self.done.set()

    def close(self) -> None:
        self.closed = True
        self.events.append("close")

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default)

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


async def _serve_one(protocol_class: type[HttpToolsProtocol], app: Any,
                     request: bytes) -> Recorder:
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    config.load()
    protocol = protocol_class(config, ServerState(), {}, asyncio.get_running_loop())
    transport = Recorder()
    protocol.connection_made(transport)
    protocol.data_received(request)
    await asyncio.wait_for(transport.done.wait(), 5)
    for _ in range(3):  # let the turn that writes out, and the one after, run
        await asyncio.sleep(0)
    return transport


GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def test_an_answer_leaves_in_one_write_head_and_body_together() -> None:
    t = await _serve_one(OneWriteHttpToolsProtocol, plain, GET)
    assert len(t.writes) == 1
    assert t.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert t.writes[0].endswith(b"\r\n\r\n" + BODY)


async def test_a_whole_answer_is_written_before_the_app_gets_control_back() -> None:
    # Not held to the end of the turn: uvicorn reads on as soon as the answer is complete
    # (the rest of a refused upload, say), and the client should hear the answer first.
    seen: list[int] = []
    box: list[Recorder] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await plain(scope, receive, send)
        seen.append(len(box[0].writes))

    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    config.load()
    protocol = OneWriteHttpToolsProtocol(config, ServerState(), {}, asyncio.get_running_loop())
    box.append(Recorder())
    protocol.connection_made(box[0])
    protocol.data_received(GET)
    await asyncio.wait_for(box[0].done.wait(), 5)
    assert seen == [1]


async def test_stock_uvicorn_makes_two_writes_of_the_same_answer() -> None:
    # What the protocol above is for: without it, the same answer costs two system calls.
    t = await _serve_one(HttpToolsProtocol, plain, GET)
    assert len(t.writes) == 2


async def test_a_stream_still_leaves_chunk_by_chunk_and_in_order() -> None:
    t = await _serve_one(OneWriteHttpToolsProtocol, streamed, GET)
    wire = b"".join(t.writes)
    assert wire.index(b"data: 0") < wire.index(b"data: 1") < wire.index(b"data: 2")
    assert wire.endswith(b"0\r\n\r\n")
    # The head goes with the first chunk; every later chunk leaves in its own turn,
    # not held back for the end of the stream.
    assert len(t.writes) >= 3
    assert b"data: 0" in t.writes[0] and b"data: 2" not in t.writes[0]


async def test_connection_close_writes_the_whole_answer_before_closing() -> None:
    t = await _serve_one(OneWriteHttpToolsProtocol, plain,
                         b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert t.events == ["write", "close"]
    assert t.writes[0].endswith(BODY)


@pytest.mark.parametrize("app", [plain, streamed])
async def test_pipelined_requests_on_a_real_socket_get_whole_answers_in_order(app: Any) -> None:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                            lifespan="off", http=OneWriteHttpToolsProtocol)
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)  # listening before the server starts: the connect below waits in the backlog
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        reader, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        writer.write(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
                     b"GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        wire = await asyncio.wait_for(reader.read(), 5)  # to EOF: the server closed
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 5)
    assert wire.count(b"HTTP/1.1 200 OK") == 2
    if app is plain:
        assert wire.count(BODY) == 2 and wire.endswith(BODY)
    else:
        assert wire.count(b"data: 2") == 2 and wire.endswith(b"0\r\n\r\n")
