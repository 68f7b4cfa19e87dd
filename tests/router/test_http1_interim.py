"""router/upstreams/http1.py against servers that send more, or other, than one answer per
request: interim 1xx answers, stray bytes after an answer, a pooled connection the server
closed just as it was reused. Helpers: http1_kit.py."""

from __future__ import annotations

import pytest
from http1_kit import Peer, RawServer, post, reply, serving

from router.upstreams import http1


async def test_an_interim_answer_is_not_the_final_answer(pool: http1.Pool) -> None:
    final = reply(b'{"ok": true}')
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n"
    async with RawServer(serving(interim + final)) as server:
        for whole in (True, False):
            answer = await post(pool, server.target(), whole=whole)
            assert answer.status == 200 and "link" not in answer.headers
            assert await answer.read() == b'{"ok": true}'
        assert server.accepted == 1  # the connection stayed in step


STRAY = {
    "a whole second answer": reply(b"stray"),
    "the start of one": b"HTTP/1.1 200 OK\r\ncontent-le",
}


@pytest.mark.parametrize("stray", STRAY.values(), ids=STRAY.keys())
async def test_stray_bytes_after_an_answer_never_become_the_next_answer(
    pool: http1.Pool, stray: bytes
) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(reply(b"first") + stray)  # one write: they arrive together
        while True:
            await peer.request()
            await peer.send(reply(b"later"))

    async with RawServer(script) as server:
        assert await (await post(pool, server.target())).read() == b"first"
        assert await (await post(pool, server.target())).read() == b"first"  # a fresh one
        assert server.accepted == 2


async def test_a_pooled_connection_closed_as_it_is_reused_is_retried_once_on_a_fresh_one(
    pool: http1.Pool,
) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()
        await peer.send(reply(b"answer"))
        await peer.request()  # the server closes its idle connection as this arrives

    async with RawServer(script) as server:
        assert await (await post(pool, server.target())).read() == b"answer"
        assert await (await post(pool, server.target())).read() == b"answer"
        assert server.accepted == 2 and len(server.requests) == 3


async def test_a_fresh_connection_closed_without_an_answer_is_not_retried(
    pool: http1.Pool,
) -> None:
    async def script(peer: Peer) -> None:
        await peer.request()

    async with RawServer(script) as server:
        with pytest.raises(ConnectionError):
            await post(pool, server.target())
        assert server.accepted == 1
