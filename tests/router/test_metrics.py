"""Metric declarations: buckets that fit every lane, and multiprocess bookkeeping."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from router.observe.metrics import (
    DURATION_BUCKETS,
    TTFT_BUCKETS,
    Metrics,
    add,
    forget_dead_workers,
    observe,
)


def test_lane_targets_are_bucket_bounds_and_both_ends_are_covered() -> None:
    for target in (0.3, 2.0, 8.0):  # completion, qa, agentic defaults
        assert target in TTFT_BUCKETS
    assert TTFT_BUCKETS[0] <= 0.01 and TTFT_BUCKETS[-1] >= 60
    assert DURATION_BUCKETS[-1] >= 900  # an agentic stream's total_s
    # Fine steps where completions live, so a p95 near 300 ms is resolved to ~20%.
    steps = [b / a for a, b in itertools.pairwise(TTFT_BUCKETS) if 0.05 <= a < 1.0]
    assert max(steps) <= 1.5


def test_children_are_remembered_per_label_set() -> None:
    m = Metrics()
    assert m.of(m.requests, "qa", "x", "200", "miss") is m.of(m.requests, "qa", "x", "200", "miss")
    assert m.of(m.requests, "qa", "x", "200", "miss") is not m.of(m.requests, "qa", "x", "502",
                                                                  "miss")


def test_scrapes_show_what_prometheus_client_itself_would() -> None:
    # A single process keeps its own values, read through prometheus_client's collector
    # API: the scrape must be what prometheus_client's own metric objects would show.
    ours = Metrics()
    r = CollectorRegistry()
    duration = Histogram("laneway_request_duration_seconds", "", ["lane", "model"],
                         buckets=DURATION_BUCKETS, registry=r)
    tokens = Counter("laneway_tokens", "", ["lane", "model", "kind"], registry=r)
    inflight = Gauge("laneway_inflight_requests", "", ["lane"], registry=r)
    events = Counter("laneway_cache_events", "", ["tier", "result"], registry=r)
    values = [0.0, 0.005, 0.0050001, 0.3, 0.29999, 2.0, 7.5, 900.0, 1e9, -1.0,
              float("nan"), *DURATION_BUCKETS]
    for v in values:
        observe(ours.of(ours.duration, "qa", "m"), v)
        duration.labels("qa", "m").observe(v)
    for n in (1, 1, 250, 0):
        add(ours.of(ours.tokens, "qa", "m", "input"), n)
        tokens.labels("qa", "m", "input").inc(n)
    add(ours.of(ours.inflight, "qa"))
    add(ours.of(ours.inflight, "qa"), -1)
    inflight.labels("qa").inc()
    inflight.labels("qa").dec()
    ours.cache_event("l1", "miss")
    events.labels("l1", "miss").inc()

    def scrape(exposition: bytes) -> list[str]:
        return sorted(line for line in exposition.decode().splitlines()
                      if not line.startswith("#") and "_created" not in line)

    assert scrape(ours.exposition()) == scrape(generate_latest(r))
    assert ours.registry.get_sample_value(
        "laneway_tokens_total", {"lane": "qa", "model": "m", "kind": "input"}) == 252


def test_redis_up_is_absent_until_reported() -> None:
    m = Metrics()
    assert b"laneway_redis_up" not in m.exposition()
    m.set_redis_up(False)
    assert m.registry.get_sample_value("laneway_redis_up") == 0


def test_dead_workers_lose_their_live_gauges_but_keep_their_counts(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    gone, alive = int(dead.stdout), os.getpid()
    for name in (f"gauge_livesum_{gone}.db", f"gauge_livemax_{gone}.db",
                 f"counter_{gone}.db", f"gauge_livesum_{alive}.db"):
        (tmp_path / name).write_bytes(b"")
    forget_dead_workers(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"counter_{gone}.db", f"gauge_livesum_{alive}.db",
    ]
