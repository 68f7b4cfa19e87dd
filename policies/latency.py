"""Time to first token learned from live traffic, per (model, lane), plus probe bookkeeping.

Why per lane: one model's TTFT for a 2k-token completion and a 100k-token agent turn
differ by orders of magnitude; mixing them would make either lane's target meaningless.

The prediction that decides "within target" is a time-aware EWMA, not the windowed p95:
- it reacts to a sustained slowdown within two or three requests, and recovers after a
  few good probes; a p95 over the last N samples only recovers once every slow sample
  has left the window, which at a probe's trickle of traffic takes many minutes;
- with little traffic a p95 is the maximum, so a single stray spike would evict a model.
  The EWMA also clamps each sample to `spike_factor` x the current average, so one
  spike (GC pause, cold cache) moves it only a little while a real slowdown still
  crosses the target in two or three samples;
- the old average's weight also halves every `half_life_s`, so a sample arriving after a
  long gap (typically a probe) counts for more than one in a busy stream.
The p95 over the last `window` samples is kept for explain, logs and dashboards.

Two series per (model, lane): the first token of streamed answers, and the whole time of
non-streamed ones (many completion plugins never stream). They differ by the generation
time, so they are kept apart: a non-streamed request waits for the whole answer and is
routed by that (`predict(..., streamed=False)`). A whole time still bounds the first token
from above, so it lowers a first-token prediction that is higher than it; alone, it says
nothing about a slow first token, so it makes none.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LatencyStats:
    ewma_ms: float
    p95_ms: float
    samples: int  # all samples ever recorded; the p95 uses only the last `window`
    last_at: float


@dataclass(slots=True)
class _Series:
    ewma: float
    last_at: float
    window: deque[float]
    samples: int = 0
    p95: float | None = None  # cached; cleared by every new sample


@dataclass(slots=True)
class _Probes:
    since_last: int = 0  # requests of the lane since its last probe (or since start)
    last_at: float = -math.inf
    per_model: dict[str, float] = field(default_factory=dict)


class LatencyTracker:
    def __init__(
        self,
        alpha: float = 0.3,
        window: int = 50,
        half_life_s: float = 30.0,
        spike_factor: float = 4.0,
    ) -> None:
        if not 0 < alpha <= 1 or window < 1 or half_life_s <= 0 or spike_factor < 1:
            raise ValueError("invalid latency tracker settings")
        self._alpha = alpha
        self._window = window
        self._half_life = half_life_s
        self._spike = spike_factor
        self._series: dict[tuple[str, str, bool], _Series] = {}  # (model, lane, whole)
        self._probes: dict[str, _Probes] = {}

    # -- samples ---------------------------------------------------------------------
    def record(self, model: str, lane: str, ttft_ms: float, now: float,
               whole: bool = False) -> None:
        """A streamed answer's first token, or (`whole`) a non-streamed answer's whole time."""
        ttft_ms = max(0.0, ttft_ms)
        key = (model, lane, whole)
        s = self._series.get(key)
        if s is None:
            s = _Series(ewma=ttft_ms, last_at=now, window=deque(maxlen=self._window))
            self._series[key] = s
        else:
            keep = (1.0 - self._alpha) * 0.5 ** (max(0.0, now - s.last_at) / self._half_life)
            sample = min(ttft_ms, s.ewma * self._spike) if s.ewma > 0 else ttft_ms
            s.ewma = keep * s.ewma + (1.0 - keep) * sample
            s.last_at = now
        s.window.append(ttft_ms)
        s.samples += 1
        s.p95 = None

    def ewma(self, model: str, lane: str) -> float | None:
        """Predicted TTFT in ms, or None without data (a model without data is assumed fine)."""
        return self.predict(model, lane, True)

    def predict(self, model: str, lane: str, streamed: bool) -> float | None:
        """What a request will wait for, in ms: the first token when it streams, the whole
        answer when it does not (each falling back on the other's figure). None: no data."""
        first = self._series.get((model, lane, False))
        whole = self._series.get((model, lane, True))
        if not streamed:
            s = whole or first
            return None if s is None else s.ewma
        if first is None:
            return None
        return first.ewma if whole is None else min(first.ewma, whole.ewma)

    def stats(self, model: str, lane: str, whole: bool = False) -> LatencyStats | None:
        s = self._series.get((model, lane, whole))
        if s is None:
            return None
        if s.p95 is None:
            ordered = sorted(s.window)
            # Nearest rank: the smallest sample with at least 95% of the window at or below it.
            s.p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
        return LatencyStats(ewma_ms=s.ewma, p95_ms=s.p95, samples=s.samples, last_at=s.last_at)

    # -- probes ----------------------------------------------------------------------
    def count_request(self, lane: str) -> None:
        self._lane(lane).since_last += 1

    def probe_due(self, lane: str, now: float, share: float, interval_s: float) -> bool:
        """May this request of the lane be a probe? Both bounds hold: at most `share` of
        the lane's requests and at least `interval_s` between two probes."""
        if share <= 0:
            return False
        p = self._lane(lane)
        return p.since_last >= math.ceil(1.0 / share) and now - p.last_at >= interval_s

    def probed(self, model: str, lane: str, now: float) -> None:
        p = self._lane(lane)
        p.since_last = 0
        p.last_at = now
        p.per_model[model] = now

    def last_probe(self, model: str, lane: str) -> float:
        return self._lane(lane).per_model.get(model, -math.inf)

    def _lane(self, lane: str) -> _Probes:
        p = self._probes.get(lane)
        if p is None:
            p = self._probes[lane] = _Probes()
        return p
