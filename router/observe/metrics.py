"""Every metric laneway exports, declared in one place (names and labels are the contract's).

Single process: values are plain floats of this object's own, which prometheus_client reads
at scrape time through its public custom-collector API (cheaper per count than its metric
objects, which lock on every increment). Several uvicorn workers (`laneway serve --workers
N`): `PROMETHEUS_MULTIPROC_DIR` is set before the workers start, the families are
prometheus_client's own, which back every value with a per-process file, and `exposition()`
sums them, so any worker's /metrics shows the whole server's totals. Either way a family is
used the same way: `family.labels(...)`, or `Metrics.of(family, ...)` to keep the child.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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


class Count(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class Level(Count, Protocol):
    def dec(self, amount: float = 1) -> None: ...

    def set(self, value: float) -> None: ...


class Spread(Protocol):
    def observe(self, amount: float) -> None: ...


C = TypeVar("C", Count, Level, Spread)
C_co = TypeVar("C_co", covariant=True)


class Family(Protocol[C_co]):
    def labels(self, *values: str) -> C_co: ...


class _Value:
    """One series of a counter or gauge in a single process. Every count laneway makes is
    made on the event loop's thread and a scrape reads a float whole, so no lock: taking
    prometheus_client's cost ~0.5 µs of the ~0.8 µs its inc() takes, a dozen times a
    request."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = value


class _Buckets:
    """One series of a histogram in a single process: its bucket found by binary search
    (prometheus_client walks the bounds one by one, 30-odd for the duration buckets)."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0

    def observe(self, amount: float) -> None:
        self.sum += amount
        i = bisect.bisect_left(self.bounds, amount)  # the first upper bound >= amount
        if i < len(self.bounds) and amount == amount:  # NaN: no bucket, as prometheus_client
            self.counts[i] += 1


class _Series(Generic[C]):
    """A metric family of this process's own, read by prometheus_client through the public
    custom-collector API (`_Collector`) at scrape time."""

    def __init__(self, kind: str, name: str, doc: str, labelnames: tuple[str, ...],
                 make: Callable[[], C], buckets: tuple[float, ...] = ()) -> None:
        self.kind, self.name, self.doc, self.labelnames = kind, name, doc, labelnames
        self.buckets = buckets
        self._make: Callable[[], C] = make
        self.children: dict[tuple[str, ...], C] = {}

    def labels(self, *values: str) -> C:
        child = self.children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: {len(self.labelnames)} label values expected")
            child = self.children[values] = self._make()
        return child

    def family(self) -> Metric:
        if self.kind == "histogram":
            h = HistogramMetricFamily(self.name, self.doc, labels=self.labelnames)
            for values, b in self.children.items():
                assert isinstance(b, _Buckets)
                running, cumulative = 0, []
                for bound, n in zip(self.buckets, b.counts, strict=True):
                    running += n
                    cumulative.append((floatToGoString(bound), running))
                h.add_metric(list(values), cumulative, b.sum)
            return h
        f = (CounterMetricFamily if self.kind == "counter" else GaugeMetricFamily)(
            self.name, self.doc, labels=self.labelnames)
        for values, v in self.children.items():
            assert isinstance(v, _Value)
            f.add_metric(list(values), v.value)
        return f


class _Collector(Collector):
    def __init__(self, series: list[_Series[Any]]) -> None:
        self.series = series

    def collect(self) -> Iterable[Metric]:
        return [s.family() for s in self.series]


def add(child: Count, amount: float = 1.0) -> None:
    child.inc(amount)


def observe(child: Spread, amount: float) -> None:
    child.observe(amount)


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, multiprocess_dir: str | None = None
    ) -> None:
        # prometheus_client picks file-backed values at import time from this same variable,
        # so reading it here keeps exposition consistent with how values are stored.
        self.multiprocess_dir = multiprocess_dir or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        r = self.registry = registry or CollectorRegistry()
        self._own: list[_Series[Any]] = []
        p = "laneway_"
        self.requests = self._counter(
            p + "requests", "Requests answered", ("lane", "model", "status", "cache")
        )
        self.duration = self._histogram(
            p + "request_duration_seconds", "Arrival to last byte", ("lane", "model"),
            DURATION_BUCKETS,
        )
        self.ttft = self._histogram(
            p + "time_to_first_token_seconds", "Arrival to first byte of the answer",
            ("lane", "model"), TTFT_BUCKETS,
        )
        self.overhead = self._histogram(
            p + "overhead_seconds", "laneway's own time on a request (upstream time excluded)",
            ("lane",), OVERHEAD_BUCKETS,
        )
        self.tokens = self._counter(
            p + "tokens",
            "Tokens by kind: input/output as billed by the model (cache hits bill none), "
            "trimmed as cut by laneway's budgets",
            ("lane", "model", "kind"),
        )
        self.cache_events = self._counter(
            p + "cache_events", "Cache lookups and writes", ("tier", "result")
        )
        self.cost = self._counter(p + "cost_usd", "Spend at list price", ("lane", "model"))
        self.cost_saved = self._counter(
            p + "cost_saved_usd",
            "Saving against sending everything, untrimmed, to the largest model "
            "(cache hits save that whole cost)",
            ("lane",),
        )
        self.upstream_errors = self._counter(
            p + "upstream_errors", "Failed upstream attempts", ("model", "reason")
        )
        # Workers' in-flight counts add up; "live" drops a dead worker's stale count.
        self.inflight = self._gauge(
            p + "inflight_requests", "Requests in progress", ("lane",), "livesum"
        )
        # Breakers are per worker. max: 0 only when every worker has ejected the model, i.e.
        # this replica can no longer send it traffic (what "no healthy model" alerts need);
        # a model failing in one worker only shows in upstream_errors_total.
        self.model_up = self._gauge(
            p + "model_up", "1 when the model is taking traffic, 0 while ejected", ("model",),
            "livemax",
        )
        # Not in the contract's list; they let dashboards and alerts follow the config and
        # policy instead of repeating them: which lanes a model serves, each lane's target.
        self.model_info = self._gauge(
            p + "model_info", "1 per configured model and lane it serves",
            ("model", "tier", "lane"), "livemax",
        )
        self.ttft_target = self._gauge(
            p + "ttft_target_seconds", "The lane's time-to-first-token target (policy)",
            ("lane",), "livemax",
        )
        # Teams (router/limits/spend.py): spend per team, and its budget for the period.
        self.spend = self._counter(
            p + "spend_usd", "Spend of the team's keys (the cost counted in cost_usd_total)",
            ("team",),
        )
        self.budget_remaining = self._gauge(
            p + "budget_remaining_usd", "What is left of the team's budget for the period",
            ("team",), "livemostrecent",
        )
        self.budget_usd = self._gauge(
            p + "budget_usd", "The team's budget for the period (config)", ("team",), "livemax",
        )
        self.budget_check_failures = self._counter(
            p + "budget_check_failures",
            "Budget checks Redis could not answer; action: what budget_fail did",
            ("team", "action"),
        )
        # Feedback (counted once across replicas: on the replica where the event counted).
        # arm is "none" outside experiments.
        self.shown = self._counter(
            p + "completions_shown", "Answers shown (a view event, or delivered whole)",
            ("lane", "model", "arm"),
        )
        self.accepted = self._counter(
            p + "completions_accepted",
            "Answers accepted: a select event, or implicitly (the next prefix carries them)",
            ("lane", "model", "arm", "source"),
        )
        self.dismissed = self._counter(
            p + "completions_dismissed", "Answers dismissed (a dismiss event)",
            ("lane", "model", "arm"),
        )
        self.experiment_decided = self._gauge(
            p + "experiment_decided", "1 once the experiment has a winner, else 0",
            ("experiment", "lane"), "livemax",
        )
        self.experiment_winner = self._gauge(
            p + "experiment_winner", "1 for the experiment's winning arm", ("experiment", "arm"),
            "livemax",
        )
        if self._own:
            r.register(_Collector(self._own))
        self._described: set[tuple[str, str, str]] = set()
        self._up: dict[str, bool] = {}
        self._children: dict[tuple[object, tuple[str, ...]], object] = {}
        self._events: dict[tuple[str, str], Count] = {}
        # Created on the first report: absent (not 0) when no Redis is configured.
        self.redis_up: Gauge | None = None

    # -- declarations: this process's own series, or prometheus_client's files ----------------

    def _counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Family[Count]:
        if self.multiprocess_dir:
            return Counter(name, doc, labels, registry=self.registry)
        s: _Series[Count] = _Series("counter", name, doc, labels, _Value)
        self._own.append(s)
        return s

    def _gauge(
        self, name: str, doc: str, labels: tuple[str, ...],
        mode: Literal["livesum", "livemax", "livemostrecent"],
    ) -> Family[Level]:
        if self.multiprocess_dir:
            return Gauge(name, doc, labels, registry=self.registry, multiprocess_mode=mode)
        s: _Series[Level] = _Series("gauge", name, doc, labels, _Value)
        self._own.append(s)
        return s

    def _histogram(
        self, name: str, doc: str, labels: tuple[str, ...], buckets: tuple[float, ...]
    ) -> Family[Spread]:
        if self.multiprocess_dir:
            return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)
        bounds = (*buckets, math.inf)
        s: _Series[Spread] = _Series(
            "histogram", name, doc, labels, lambda: _Buckets(bounds), bounds
        )
        self._own.append(s)
        return s

    def of(self, family: Family[C], *labels: str) -> C:
        """`family.labels(*labels)`, remembered: prometheus_client's labels() validates and
        takes a lock on every call (~5 us), and one request touches a dozen series."""
        key = (family, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = family.labels(*labels)
        return child  # type: ignore[return-value]

    # -- callbacks for the other rooms --------------------------------------------------------

    def cache_event(self, tier: str, result: str) -> None:
        """The cache's `on_event(tier, result)` sink (several per request)."""
        child = self._events.get((tier, result))
        if child is None:
            child = self._events[(tier, result)] = self.of(self.cache_events, tier, result)
        child.inc(1)

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
