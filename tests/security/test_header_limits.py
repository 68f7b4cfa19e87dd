"""Request headers are capped in total size and count: 431 before they are buffered, in the
client's API shape, and the connection closes (issue 19)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import httpx
from procs import Proc

from router.http.server import MAX_HEADER_BYTES, MAX_HEADERS

BODY = b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}'


async def _send(url: str, head: bytes, body: bytes = BODY, piece: int = 0) -> bytes:
    """Send `head` (in `piece`-byte writes when set) then `body`; the answer, read to EOF."""
    u = urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    answer = asyncio.ensure_future(reader.read())  # to EOF: the server closes after a 431
    sent = 0
    try:
        step = piece or len(head)
        while sent < len(head) and not answer.done():
            writer.write(head[sent:sent + step])
            sent += step
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (ConnectionError, TimeoutError):
                break
        if body and not answer.done():
            writer.write(body)
        return await asyncio.wait_for(answer, 10)
    finally:
        writer.close()


def _head(path: str, headers: list[tuple[str, str]], body: bytes = BODY) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "host: x", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def test_headers_over_the_total_size_are_a_431(laneway: Proc):
    many_kib = [(f"x-pad-{i}", "v" * 4096) for i in range(MAX_HEADER_BYTES // 4096 + 1)]
    answer = asyncio.run(_send(laneway.url, _head("/v1/chat/completions", many_kib)))
    assert _status(answer) == 431
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "request_header_fields_too_large"


def test_too_many_headers_are_a_431_in_the_messages_shape_there(laneway: Proc):
    many = [(f"x-h-{i}", "1") for i in range(MAX_HEADERS + 1)]
    answer = asyncio.run(_send(laneway.url, _head("/v1/messages", many)))
    assert _status(answer) == 431
    payload = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert payload["type"] == "error" and payload["error"]["type"] == "request_too_large"


def test_one_endless_header_is_refused_while_it_arrives(laneway: Proc):
    # The head never ends: the answer can only come from counting it as it arrives.
    endless = b"x-endless: " + b"a" * (2 * MAX_HEADER_BYTES)
    head = _head("/v1/chat/completions", [])[:-2] + endless
    answer = asyncio.run(_send(laneway.url, head, body=b"", piece=4096))
    assert _status(answer) == 431


def test_big_but_allowed_heads_are_served_on_a_kept_alive_connection(laneway: Proc):
    headers = {f"x-pad-{i}": "v" * 1000 for i in range(MAX_HEADER_BYTES // 1000 - 4)}
    with httpx.Client(base_url=laneway.url, timeout=30) as client:
        for _ in range(3):  # each request's head is counted on its own
            r = client.post("/v1/chat/completions", content=BODY, headers=headers)
            assert r.status_code == 200, r.text
