"""Every metric laneway exports, declared in one place (names and labels are the contract's).

Single process: values live in this object's private registry. Several uvicorn workers
(`laneway serve --workers N`): `PROMETHEUS_MULTIPROC_DIR` is set before the workers start,
prometheus_client then backs every value with a per-process file, and `exposition()` sums
them, so any worker's /metrics shows the whole server's totals.
"""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

if TYPE_CHECKING:
    from policies.catalog import ModelSpec

# One family serves every lane: completion answers in tens of milliseconds, agentic turns in
# tens of seconds. Steps of ~1.25-1.5x keep histogram_quantile within ~15% at both ends, and
# each lane's default target (0.3 s, 2 s, 8 s) is a boundary, so "share of requests over
# target" is exact rather than interpolated. Per-lane families would save ~10 series per
# lane but make every query lane-specific; not worth it at this cardinality.
TTFT_BUCKETS = (
    0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 120.0,
)
# A whole answer can outlast its first token by minutes (agentic streams, total_s up to 15 min).
DURATION_BUCKETS = (*TTFT_BUCKETS, 300.0, 600.0, 900.0)
# laneway's own work: tens of microseconds when all is well, milliseconds when it is not.
OVERHEAD_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1,
)

_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")
M = TypeVar("M", bound=MetricWrapperBase)


def _fast_path_fits() -> bool:
    """Whether prometheus_client's children still keep their values where `add` and
    `observe` reach for them (checked once, on a throwaway registry)."""
    r = CollectorRegistry()
    c = Counter("probe", "", ["l"], registry=r).labels("x")
    h = Histogram("probe_h", "", ["l"], buckets=(1.0,), registry=r).labels("x")
    try:
        return (callable(c._value.inc) and callable(h._sum.inc)  # type: ignore[attr-defined]
                and len(h._buckets) == len(h._upper_bounds) == 2)  # type: ignore[attr-defined]
    except AttributeError:
        return False


_FAST = _fast_path_fits()


def add(child: Counter | Gauge, amount: float = 1.0) -> None:
    """`child.inc(amount)` for a labelled child and an amount known to be valid: the public
    inc() checks both on every call; a request makes a dozen of these."""
    if _FAST:
        child._value.inc(amount)  # type: ignore[union-attr]
    else:
        child.inc(amount)


def observe(child: Histogram, amount: float) -> None:
    """`child.observe(amount)` with a binary search for the bucket (prometheus_client walks
    the bounds one by one: 30-odd for the duration buckets). The same bucket: the first
    upper bound >= amount."""
    if _FAST and amount == amount:  # NaN: no bucket, as prometheus_client does
        child._sum.inc(amount)  # type: ignore[attr-defined]
        bounds = child._upper_bounds  # type: ignore[attr-defined]
        i = bisect.bisect_left(bounds, amount)
        if i < len(bounds):
            child._buckets[i].inc(1)  # type: ignore[attr-defined]
    else:
        child.observe(amount)


class _LoopValue:
    """prometheus_client's in-memory value without its lock. Every count laneway makes is
    made on the event loop's thread (a request's, the cache's, the breakers'), and a scrape
    reads a float whole, so the lock guards nothing here; taking it cost ~0.15 µs of the
    ~0.25 µs an increment costs, a dozen and a half increments per request."""

    __slots__ = ("_exemplar", "_value")
    _multiprocess = False

    def __init__(self, value: float) -> None:
        self._value = value
        self._exemplar: object = None

    def inc(self, amount: float) -> None:
        self._value += amount

    def set(self, value: float, timestamp: float | None = None) -> None:
        self._value = value

    def get(self) -> float:
        return self._value

    def set_exemplar(self, exemplar: object) -> None:
        self._exemplar = exemplar

    def get_exemplar(self) -> object:
        return self._exemplar


def _unlock(child: MetricWrapperBase) -> None:
    """Give a labelled child of this process's own registry lock-free values (single process
    only: with several workers the values are prometheus_client's files)."""
    d = child.__dict__
    for name in ("_value", "_sum"):
        if name in d:
            d[name] = _LoopValue(d[name].get())
    if "_buckets" in d:
        d["_buckets"] = [_LoopValue(b.get()) for b in d["_buckets"]]


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, multiprocess_dir: str | None = None
    ) -> None:
        # prometheus_client picks file-backed values at import time from this same variable,
        # so reading it here keeps exposition consistent with how values are stored.
        self.multiprocess_dir = multiprocess_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        r = self.registry = registry or CollectorRegistry()
        p = "laneway_"
        self.requests = Counter(
            p + "requests", "Requests answered", ["lane", "model", "status", "cache"], registry=r
        )
        self.duration = Histogram(
            p + "request_duration_seconds", "Arrival to last byte", ["lane", "model"],
            buckets=DURATION_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            p + "time_to_first_token_seconds", "Arrival to first byte of the answer",
            ["lane", "model"], buckets=TTFT_BUCKETS, registry=r,
        )
        self.overhead = Histogram(
            p + "overhead_seconds", "laneway's own time on a request (upstream time excluded)",
            ["lane"], buckets=OVERHEAD_BUCKETS, registry=r,
        )
        self.tokens = Counter(
            p + "tokens",
            "Tokens by kind: input/output as billed by the model (cache hits bill none), "
            "trimmed as cut by laneway's budgets",
            ["lane", "model", "kind"], registry=r,
        )
        self.cache_events = Counter(
            p + "cache_events", "Cache lookups and writes", ["tier", "result"], registry=r
        )
        self.cost = Counter(p + "cost_usd", "Spend at list price", ["lane", "model"], registry=r)
        self.cost_saved = Counter(
            p + "cost_saved_usd",
            "Saving against sending everything, untrimmed, to the largest model "
            "(cache hits save that whole cost)",
            ["lane"], registry=r,
        )
        self.upstream_errors = Counter(
            p + "upstream_errors", "Failed upstream attempts", ["model", "reason"], registry=r
        )
        # Workers' in-flight counts add up; "live" drops a dead worker's stale count.
        self.inflight = Gauge(
            p + "inflight_requests", "Requests in progress", ["lane"], registry=r,
            multiprocess_mode="livesum",
        )
        # Breakers are per worker. max: 0 only when every worker has ejected the model, i.e.
        # this replica can no longer send it traffic (what "no healthy model" alerts need);
        # a model failing in one worker only shows in upstream_errors_total.
        self.model_up = Gauge(
            p + "model_up", "1 when the model is taking traffic, 0 while ejected", ["model"],
            registry=r, multiprocess_mode="livemax",
        )
        # Not in the contract's list; they let dashboards and alerts follow the config and
        # policy instead of repeating them: which lanes a model serves, each lane's target.
        self.model_info = Gauge(
            p + "model_info", "1 per configured model and lane it serves",
            ["model", "tier", "lane"], registry=r, multiprocess_mode="livemax",
        )
        self.ttft_target = Gauge(
            p + "ttft_target_seconds", "The lane's time-to-first-token target (policy)",
            ["lane"], registry=r, multiprocess_mode="livemax",
        )
        # Feedback (counted once across replicas: on the replica where the event counted).
        # arm is "none" outside experiments.
        self.shown = Counter(
            p + "completions_shown", "Answers shown (a view event, or delivered whole)",
            ["lane", "model", "arm"], registry=r,
        )
        self.accepted = Counter(
            p + "completions_accepted",
            "Answers accepted: a select event, or implicitly (the next prefix carries them)",
            ["lane", "model", "arm", "source"], registry=r,
        )
        self.dismissed = Counter(
            p + "completions_dismissed", "Answers dismissed (a dismiss event)",
            ["lane", "model", "arm"], registry=r,
        )
        self.experiment_decided = Gauge(
            p + "experiment_decided", "1 once the experiment has a winner, else 0",
            ["experiment", "lane"], registry=r, multiprocess_mode="livemax",
        )
        self.experiment_winner = Gauge(
            p + "experiment_winner", "1 for the experiment's winning arm", ["experiment", "arm"],
            registry=r, multiprocess_mode="livemax",
        )
        self._described: set[tuple[str, str, str]] = set()
        self._up: dict[str, bool] = {}
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], MetricWrapperBase] = {}
        self._events: dict[tuple[str, str], Counter] = {}
        # Created on the first report: absent (not 0) when no Redis is configured.
        self.redis_up: Gauge | None = None

    def of(self, family: M, *labels: str) -> M:
        """`family.labels(*labels)`, remembered: labels() validates and takes a lock on every
        call (~5 us), and one request touches a dozen series. Bounded like the series."""
        key = (family, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
            if _FAST and not self.multiprocess_dir:
                _unlock(child)
        return child  # type: ignore[return-value]

    # -- callbacks for the other rooms --------------------------------------------------------

    def cache_event(self, tier: str, result: str) -> None:
        """The cache's `on_event(tier, result)` sink (several per request)."""
        child = self._events.get((tier, result))
        if child is None:
            child = self._events[(tier, result)] = self.of(self.cache_events, tier, result)
        add(child)

    def set_redis_up(self, up: bool) -> None:
        """The cache's Redis health: call on every probe result (or on each change)."""
        if self.redis_up is None:
            # min: if any worker cannot reach Redis, part of the traffic runs without L2.
            self.redis_up = Gauge(
                "laneway_redis_up",
                "1 while Redis (the shared L2 cache) answers, 0 while it does not",
                registry=self.registry, multiprocess_mode="livemin",
            )
        self.redis_up.set(1 if up else 0)

    def set_model_up(self, model: str, up: bool) -> None:
        # Called after every request; write (a file, with several workers) only on change.
        if self._up.get(model) is not up:
            self._up[model] = up
            self.of(self.model_up, model).set(1 if up else 0)

    def describe(
        self, models: Iterable[ModelSpec], ttft_targets_s: Mapping[str, float]
    ) -> None:
        """Publish the configuration's shape; call again after a reload."""
        self._up.clear()  # a (re)built runtime may have set model_up behind set_model_up
        now = {(m.name, m.tier.name.lower(), lane) for m in models for lane in m.lanes}
        # Zero rather than remove: with several workers the old value lives on in a file.
        for gone in self._described - now:
            self.model_info.labels(*gone).set(0)
        for labels in now:
            self.model_info.labels(*labels).set(1)
        self._described = now
        for lane, target in ttft_targets_s.items():
            self.ttft_target.labels(lane).set(target)

    def feedback(self, lane: str, model: str, arm: str, kind: str, source: str) -> None:
        """One counted feedback event (the store said it counted: never twice)."""
        if kind == "shown":
            add(self.of(self.shown, lane, model, arm))
        elif kind == "accepted":
            add(self.of(self.accepted, lane, model, arm, source))
        elif kind == "dismissed":
            add(self.of(self.dismissed, lane, model, arm))

    def experiment_state(self, name: str, lane: str, winner: str | None) -> None:
        self.of(self.experiment_decided, name, lane).set(1 if winner else 0)
        if winner:
            self.of(self.experiment_winner, name, winner).set(1)

    # -- exposition ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        forget_dead_workers(self.multiprocess_dir)
        # A fresh registry per scrape is prometheus_client's documented multiprocess pattern:
        # the collector reads every worker's files each time.
        registry = CollectorRegistry()
        MultiProcessCollector(registry, self.multiprocess_dir)
        return generate_latest(registry)


def forget_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that no longer exist (uvicorn restarts a crashed worker
    under a new pid), so in-flight counts and health do not stick at their last values."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for pid in {int(m.group(1)) for n in names if (m := _LIVE_GAUGE_FILE.search(n))}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, owned by another user
