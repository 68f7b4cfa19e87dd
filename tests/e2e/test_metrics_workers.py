"""`laneway serve --workers 2`: /metrics shows the whole server, whichever worker answers;
every ending of a request is counted once and leaves nothing in flight; each request writes
one access line; the metrics directory is private to the run and removed at exit.

One server for the module (starting two workers costs seconds); the last test stops it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from metrics_kit import (
    BROKEN,
    KIT_AUTH,
    broken_request,
    config,
    lane_requests,
    scrape,
    send_all,
    total,
)
from procs import Proc, start_laneway, wait_until


@pytest.fixture(scope="module")
def server(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Path]]:
    tmp = tmp_path_factory.mktemp("workers")
    parent = tmp / "multiproc"  # laneway makes its own directory inside
    parent.mkdir()
    (parent / "counter_1.db").write_bytes(b"left by an earlier run")
    proc = start_laneway(tmp, config(fleet.url), workers=2,
                         env={"PROMETHEUS_MULTIPROC_DIR": str(parent)})
    yield proc, parent
    proc.stop()


def recorded(proc: Proc, n: float) -> None:
    # Recording happens just after the last byte: wait for it rather than sleep.
    wait_until(lambda: total(scrape(proc), "laneway_requests_total") >= n, timeout=10,
               what=f"{n} requests recorded")


def test_counters_equal_the_requests_sent(server: tuple[Proc, Path]) -> None:
    proc, parent = server
    requests = [r for i in range(6) for r in lane_requests(i)]
    requests += [broken_request(i) for i in range(4)]
    statuses = send_all(proc.url, requests)
    assert statuses.count(200) == 18, statuses
    recorded(proc, len(requests))
    for _ in range(8):  # new connections: the pages come from either worker
        s = scrape(proc)
        assert total(s, "laneway_requests_total") == len(requests)
        for lane, n in (("completion", 6), ("qa", 10), ("agentic", 6)):
            assert total(s, "laneway_requests_total", lane=lane) == n, lane
            assert total(s, "laneway_request_duration_seconds_count", lane=lane) == n, lane
        assert total(s, "laneway_requests_total", model=BROKEN, status="200") == 0
        assert total(s, "laneway_upstream_errors_total", model=BROKEN) >= 1
        assert total(s, "laneway_inflight_requests") == 0
        assert total(s, "laneway_cost_usd_total") > 0
        # Every worker publishes the model's lanes; "max" shows them once, not per worker.
        assert total(s, "laneway_model_info", model="qwen3-14b") == 3
    # Both workers answered some (else this would prove nothing about adding up).
    (run,) = [p for p in parent.iterdir() if p.is_dir()]
    assert run.name.startswith("laneway-metrics-")
    assert len({f.stem.rsplit("_", 1)[1] for f in run.glob("counter_*.db")}) == 2


def test_failures_and_disconnects_leave_nothing_in_flight(server: tuple[Proc, Path]) -> None:
    proc, _ = server
    before = scrape(proc)
    # The large model takes ~0.9 s to its first token, then streams prose (12 tokens or
    # more) at ~35 tokens/s, one token a chunk.
    slow = {"model": "qwen3-235b-a22b", "stream": True,
            "messages": [{"role": "user", "content": "Explain monads at length."}]}
    with pytest.raises(httpx.ReadTimeout), httpx.Client(timeout=0.3) as c:
        c.post(proc.url + "/v1/chat/completions", json=slow,
               headers={"x-request-id": "before-first-byte", **KIT_AUTH})
    with httpx.Client(timeout=10) as c, c.stream(
        "POST", proc.url + "/v1/chat/completions", json=slow,
        headers={"x-request-id": "mid-stream", **KIT_AUTH},
    ) as r:
        assert r.status_code == 200
        next(r.iter_bytes())
    path, body = broken_request(99)
    assert httpx.post(proc.url + path, json=body, timeout=10,
                      headers={"x-request-id": "broken", **KIT_AUTH}).status_code >= 500
    recorded(proc, total(before, "laneway_requests_total") + 3)
    s = scrape(proc)
    assert total(s, "laneway_inflight_requests") == 0
    assert total(s, "laneway_requests_total", status="499") \
        - total(before, "laneway_requests_total", status="499") == 2

    def lines() -> dict[str, dict[str, object]]:
        found = [orjson.loads(x) for x in proc.log().splitlines() if x.startswith('{"ts"')]
        return {str(line["request_id"]): line for line in found}

    wait_until(lambda: {"before-first-byte", "mid-stream", "broken"} <= set(lines()),
               timeout=5, what="their access lines")
    log = lines()
    assert log["before-first-byte"]["status"] == 499
    assert log["before-first-byte"]["ttft_ms"] is None
    assert log["mid-stream"]["status"] == 499 and log["mid-stream"]["error"] == "client_gone"
    assert log["mid-stream"]["lane"] == "qa" and log["mid-stream"]["ttft_ms"] > 0
    assert log["broken"]["model"] == BROKEN or log["broken"]["status"] == 503
    # One line per request: 22 + 3 so far.
    assert len(lines()) == total(s, "laneway_requests_total")


def test_metrics_directory_is_removed_at_exit(server: tuple[Proc, Path]) -> None:
    proc, parent = server
    (run,) = [p for p in parent.iterdir() if p.is_dir()]
    proc.stop()
    assert not run.exists()
    assert (parent / "counter_1.db").exists()  # not laneway's to remove
