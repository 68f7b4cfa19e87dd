"""Helpers for the tests of router/upstreams/http1.py (laneway's lean keep-alive HTTP/1.1 client).

Ordinary answers come from the in-process fleet (conftest.py's `fleet_app`). The edge cases
(chunked and close-delimited bodies, cut connections, invalid HTTP, stalls, error statuses)
come from small raw servers here that send exact bytes and record what they see:
connections accepted, requests read, and clients hanging up, which is how an upstream
learns to stop generating.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import orjson

from fleet.server import FleetServer
from policies.catalog import ModelSpec, Tier
from router.upstreams import http1

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


def model_at(base: str) -> ModelSpec:
    return ModelSpec("m", base, "openai", "m", Tier.SMALL, frozenset({"qa"}), 32768, 0, 0, None)


def fleet_target(fleet: FleetServer) -> http1.Target:
    return http1.Target(fleet.host, fleet.port, "/v1/chat/completions", JSON)
