import pytest

from policies.latency import LatencyTracker


def test_no_data_is_none():
    t = LatencyTracker()
    assert t.ewma("m", "completion") is None and t.stats("m", "completion") is None


def test_first_sample_sets_the_average_and_lanes_are_separate():
    t = LatencyTracker()
    t.record("m", "completion", 120, now=0)
    t.record("m", "agentic", 4000, now=0)
    assert t.ewma("m", "completion") == 120 and t.ewma("m", "agentic") == 4000


def test_ewma_converges_with_alpha():
    t = LatencyTracker(alpha=0.3)
    t.record("m", "qa", 100, now=0)
    t.record("m", "qa", 200, now=0)
    assert t.ewma("m", "qa") == pytest.approx(130)


def test_single_spike_is_damped_but_sustained_slowdown_crosses_quickly():
    t = LatencyTracker()
    for _ in range(10):
        t.record("m", "completion", 100, now=0)
    t.record("m", "completion", 5000, now=0)
    spiked = t.ewma("m", "completion")
    assert spiked is not None and spiked < 300  # one spike doesn't evict a model
    t.record("m", "completion", 5000, now=0)
    t.record("m", "completion", 5000, now=0)
    slow = t.ewma("m", "completion")
    assert slow is not None and slow > 300


def test_old_average_fades_with_time():
    busy, idle = LatencyTracker(), LatencyTracker()
    for t in (busy, idle):
        t.record("m", "qa", 1000, now=0)
    busy.record("m", "qa", 100, now=0)
    idle.record("m", "qa", 100, now=60)  # two half-lives later
    b, i = busy.ewma("m", "qa"), idle.ewma("m", "qa")
    assert b is not None and i is not None and i < b
    assert i == pytest.approx(0.7 * 0.25 * 1000 + (1 - 0.7 * 0.25) * 100)


def test_p95_over_window_nearest_rank():
    t = LatencyTracker(window=20)
    for v in range(1, 101):  # only 81..100 remain in the window
        t.record("m", "qa", float(v), now=0)
    s = t.stats("m", "qa")
    assert s is not None and s.samples == 100 and s.p95_ms == 99
    t.record("m", "qa", 1000, now=1)
    s2 = t.stats("m", "qa")
    assert s2 is not None and s2.p95_ms == 100 and s2.last_at == 1  # cache invalidated


def test_probe_bounds_share_and_interval():
    t = LatencyTracker()
    lane = "completion"
    assert not t.probe_due(lane, 0, share=0.1, interval_s=10)  # no traffic yet
    for _ in range(10):
        t.count_request(lane)
    assert t.probe_due(lane, 0, share=0.1, interval_s=10)  # never probed: no interval yet
    t.probed("slow", lane, 0)
    for i in range(9):
        t.count_request(lane)
        assert not t.probe_due(lane, 100, 0.1, 10), i  # share: 1 in 10
    t.count_request(lane)
    assert t.probe_due(lane, 100, 0.1, 10)
    assert not t.probe_due(lane, 5, 0.1, 10)  # interval not yet over
    assert not t.probe_due(lane, 100, 0.0, 0)  # probing off
    assert t.last_probe("slow", lane) == 0 and t.last_probe("other", lane) == float("-inf")


def test_invalid_settings():
    with pytest.raises(ValueError):
        LatencyTracker(alpha=0)


def test_whole_answers_are_learned_apart_and_bound_the_first_token():
    t = LatencyTracker()
    t.record("m", "completion", 900.0, 0.0, whole=True)
    # A whole time alone says nothing about a slow first token...
    assert t.predict("m", "completion", streamed=True) is None
    assert t.predict("m", "completion", streamed=False) == 900.0
    t.record("m", "completion", 1200.0, 1.0)  # a first token slower than a whole answer
    # ...but it bounds one from above; the two series stay apart.
    assert t.predict("m", "completion", streamed=True) == 900.0
    assert t.ewma("m", "completion") == 900.0
    assert t.stats("m", "completion").samples == 1  # type: ignore[union-attr]
    t.record("n", "qa", 80.0, 0.0)  # only streamed data: a non-streamed request uses it
    assert t.predict("n", "qa", streamed=False) == 80.0
