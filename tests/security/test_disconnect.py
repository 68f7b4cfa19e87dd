"""A client that goes away, or a completion superseded by a newer one, stops the upstream work.

The fleet logs each request's end: `cancelled` with its time when laneway hung up on it.
Clients here are raw sockets, so "the client went away" is exactly a closed connection.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson
import pytest
from conftest import KEY_B, auth, fleet_log, set_fault
from procs import Proc

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "Explain Python's GIL."}]}
FIM = {"model": "auto", "prompt": "def parse(line):\n    ", "suffix": "\n\nprint(parse(x))\n",
       "max_tokens": 32}


_OPEN: list[socket.socket] = []


@pytest.fixture(autouse=True)
def _close_sockets() -> Iterator[None]:
    """Close what a failed test left open (closing twice is harmless)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def send(base: str, path: str, body: dict, headers: dict[str, str] | None = None
         ) -> socket.socket:
    u = urlsplit(base)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    _OPEN.append(sock)
    data = orjson.dumps(body)
    head = {"host": "x", "content-type": "application/json", "content-length": str(len(data)),
            **auth(), **(headers or {})}
    sock.sendall(f"POST {path} HTTP/1.1\r\n".encode()
                 + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n" + data)
    return sock


def read_until(sock: socket.socket, marker: bytes, timeout: float = 10) -> bytes:
    """Bytes from `sock` until `marker` shows up (or the peer closes)."""
    sock.settimeout(timeout)
    got = b""
    while marker not in got:
        piece = sock.recv(65536)
        if not piece:
            break
        got += piece
    return got


def hang_up(sock: socket.socket) -> float:
    sock.close()
    return time.time()


def cancelled_after(fleet: Proc, closed_at: float, n: int = 1) -> list[float]:
    """Seconds from our hang-up to the fleet's end of each cancelled request (waits <= 3 s)."""
    entries = fleet_log(fleet, state="cancelled", wait=3, min=n)
    assert len(entries) >= n, fleet_log(fleet)
    return [e["finished_at"] - closed_at for e in entries]


def wait_pending(fleet: Proc, n: int = 1) -> None:
    assert len(fleet_log(fleet, state="pending", wait=5, min=n)) >= n


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_client_gone_before_the_answer_stops_the_upstream(guarded: Proc, upstream: Proc,
                                                         stream: bool):
    set_fault(upstream, {"hang": True})
    sock = send(guarded.url, "/v1/chat/completions", CHAT | {"stream": stream})
    wait_pending(upstream)
    [delay] = cancelled_after(upstream, hang_up(sock))
    assert delay < 1.0


def test_client_gone_mid_stream_stops_the_upstream(guarded: Proc, upstream: Proc):
    set_fault(upstream, {"chunk_delay_ms": 3000, "ttft_ms": 0})  # one chunk, then silence
    sock = send(guarded.url, "/v1/chat/completions", CHAT | {"stream": True})
    assert b"data: " in read_until(sock, b"data: ")
    [delay] = cancelled_after(upstream, hang_up(sock))
    assert delay < 1.0


def test_client_gone_during_a_busy_stream_stops_the_upstream(guarded: Proc, upstream: Proc):
    set_fault(upstream, {"chunk_delay_ms": 50, "chunks": 200, "ttft_ms": 0})
    sock = send(guarded.url, "/v1/chat/completions", CHAT | {"stream": True})
    read_until(sock, b"data: ")
    [delay] = cancelled_after(upstream, hang_up(sock))
    assert delay < 1.0


def test_newer_completion_of_the_session_cancels_the_older(guarded: Proc, upstream: Proc):
    set_fault(upstream, {"hang": True})
    session = {"x-laneway-session": "editor-1"}
    older = send(guarded.url, "/v1/completions", FIM, session)
    wait_pending(upstream)
    newer = send(guarded.url, "/v1/completions", FIM | {"prompt": "def parse(line):\n    r"},
                 session)
    answer = read_until(older, b"}}")
    assert b" 409 " in answer.split(b"\r\n", 1)[0] and b'"superseded"' in answer
    first = fleet_log(upstream, state="cancelled", wait=3)
    assert len(first) == 1 and "(line):\n    r" not in first[0]["body"]["prompt"]
    hang_up(older)
    wait_pending(upstream)  # the newer one is upstream now
    [_, delay] = cancelled_after(upstream, hang_up(newer), 2)
    assert delay < 1.0


def test_superseding_a_stream_ends_it_with_an_error_event(guarded: Proc, upstream: Proc):
    set_fault(upstream, {"chunk_delay_ms": 400, "ttft_ms": 0})
    session = {"x-laneway-session": "editor-2"}
    older = send(guarded.url, "/v1/completions", FIM | {"stream": True}, session)
    read_until(older, b"data: ")
    set_fault(upstream, {"hang": True})
    newer = send(guarded.url, "/v1/completions", FIM | {"stream": True}, session)
    rest = read_until(older, b"superseded")
    assert b"superseded" in rest and b"[DONE]" not in rest
    assert len(fleet_log(upstream, state="cancelled", wait=3)) == 1
    hang_up(older)
    hang_up(newer)


@pytest.mark.parametrize("second", [
    ("/v1/completions", FIM, {"x-laneway-session": "editor-other"}),  # another session
    ("/v1/completions", FIM, {"x-laneway-session": "editor-3", **auth(KEY_B)}),  # another tenant
    ("/v1/chat/completions", CHAT, {"x-laneway-session": "editor-3"}),  # not a completion
], ids=["other-session", "other-tenant", "chat"])
def test_only_a_completion_of_the_same_session_and_tenant_supersedes(
        guarded: Proc, upstream: Proc, second: tuple[str, dict, dict[str, str]]):
    set_fault(upstream, {"hang": True})
    first = send(guarded.url, "/v1/completions", FIM, {"x-laneway-session": "editor-3"})
    wait_pending(upstream)
    path, body, headers = second
    other = send(guarded.url, path, body, headers)
    wait_pending(upstream, 2)
    # A wrong cancel would show within milliseconds; give it 300 ms to show.
    assert fleet_log(upstream, state="cancelled", wait=0.3) == []
    cancelled_after(upstream, hang_up(first))
    cancelled_after(upstream, hang_up(other), 2)


def test_client_gone_mid_body_is_no_server_error(guarded: Proc, upstream: Proc):
    u = urlsplit(guarded.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5000\r\n"
                     + f"authorization: {auth()['authorization']}\r\n\r\n".encode()
                     + b'{"model": "auto", ')
    # The next request on a fresh connection is served, and the log has no traceback.
    sock = send(guarded.url, "/v1/chat/completions", CHAT)
    assert b" 200 " in read_until(sock, b"\r\n")
    assert "Traceback" not in guarded.log()
