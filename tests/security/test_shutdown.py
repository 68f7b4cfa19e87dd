"""Rolling restart: SIGTERM stops new connections but lets a stream in flight finish."""

from __future__ import annotations

import signal
import socket
import time
from urllib.parse import urlsplit

import pytest
from conftest import ENV, laneway_config, set_fault
from procs import Proc, start_laneway, wait_until
from test_disconnect import CHAT, read_until, send


def refuses_connections(url: str) -> bool:
    u = urlsplit(url)
    try:
        socket.create_connection((u.hostname, u.port), timeout=0.5).close()
    except OSError:
        return True
    return False


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "plain"])
def test_sigterm_lets_the_request_in_flight_finish(upstream: Proc, tmp_path, stream: bool):
    proc = start_laneway(tmp_path, laneway_config(tmp_path, upstream), env=ENV)
    try:
        # About two seconds of answer, chunk by chunk (or all at the end, not streamed).
        set_fault(upstream, {"ttft_ms": 0, "chunk_delay_ms": 100, "chunks": 20})
        sock = send(proc.url, "/v1/chat/completions", CHAT | {"stream": stream})
        if stream:
            read_until(sock, b"data: ")
        else:
            wait_until(lambda: upstream_pending(upstream), 5, "the request to reach the fleet")
        proc.signal(signal.SIGTERM)
        wait_until(lambda: refuses_connections(proc.url), 5, "the listener to close")
        rest = read_until(sock, b"[DONE]" if stream else b'"usage"', timeout=10)
        sock.close()
        assert (b"data: [DONE]" in rest) if stream else (b'"choices"' in rest)
        began = time.monotonic()
        # uvicorn re-raises the signal once it has shut down cleanly: exit by SIGTERM, not 1.
        assert proc.proc.wait(10) in (0, -signal.SIGTERM)
        assert time.monotonic() - began < 5
        assert "Traceback" not in proc.log()
    finally:
        proc.stop()


def upstream_pending(fleet: Proc) -> bool:
    from conftest import fleet_log

    return len(fleet_log(fleet, state="pending")) == 1
