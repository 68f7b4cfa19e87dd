"""Per-model circuit breakers with a cool-down that grows while a model keeps failing.

closed --(`failures` consecutive failures)--> open for cooldown_s
open --(cool-down over)--> half-open: exactly one trial request is let through
half-open --success--> closed (cool-down back to its base)
half-open --failure--> open again for twice the previous cool-down (up to max_cooldown_s)

Failures are upstream faults only (connect errors, timeouts, 5xx, 429); a 4xx caused by
the request itself says nothing about the model's health and must not be recorded.
Besides the trial, an ejected model is probed actively (router/upstreams/probe.py asks
`to_probe` which ones): a probe that succeeds closes it at once, so a model that is back
gets traffic within seconds instead of after a cool-down that may have doubled to minutes.
All times are passed in (`now`, any monotonic clock) so tests need no sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from policies.policy import BreakerPolicy

State = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class _Model:
    failures: int = 0  # consecutive, since the last success
    ejections: int = 0  # consecutive ejections; the cool-down doubles with each
    open_until: float = 0.0
    ejected_at: float = 0.0  # the latest ejection
    trial_at: float | None = None  # when the half-open trial was handed out
    last_reason: str = ""


class BreakerBoard:
    def __init__(self, settings: BreakerPolicy | None = None) -> None:
        self.settings = settings or BreakerPolicy()
        self._models: dict[str, _Model] = {}

    def state(self, model: str, now: float) -> State:
        m = self._models.get(model)
        if m is None or m.ejections == 0:
            return "closed"
        return "open" if now < m.open_until else "half_open"

    def allow(self, model: str, now: float) -> bool:
        """May a request be sent to the model? In half-open state this hands out the one
        trial (until it reports back or trial_timeout_s passes), so call it only for a
        request that will really go upstream."""
        m = self._models.get(model)
        if m is None or m.ejections == 0:
            return True
        if now < m.open_until:
            return False
        if m.trial_at is not None and now - m.trial_at < self.settings.trial_timeout_s:
            return False
        m.trial_at = now
        return True

    def available(self, model: str, now: float) -> bool:
        """Like allow() but without handing out the trial (for explain and planning)."""
        m = self._models.get(model)
        if m is None or m.ejections == 0:
            return True
        if now < m.open_until:
            return False
        return m.trial_at is None or now - m.trial_at >= self.settings.trial_timeout_s

    def retry_in(self, model: str, now: float) -> float:
        """Seconds until an ejected model may be tried again; 0 when it may be tried now."""
        m = self._models.get(model)
        if m is None or m.ejections == 0:
            return 0.0
        if now < m.open_until:
            return m.open_until - now
        if m.trial_at is not None:
            return max(0.0, m.trial_at + self.settings.trial_timeout_s - now)
        return 0.0

    def success(self, model: str) -> None:
        # Any success is evidence of health, even one that started before an ejection.
        m = self._models.get(model)
        if m is not None:
            m.failures = m.ejections = 0
            m.trial_at = None

    def failure(self, model: str, now: float, reason: str = "error") -> None:
        m = self._models.get(model)
        if m is None:
            m = self._models[model] = _Model()
        m.failures += 1
        m.last_reason = reason
        if m.ejections and now < m.open_until:
            return  # a straggler from before the ejection: already out, don't extend
        if m.ejections or m.failures >= self.settings.failures:
            # Half-open trial failed (or the threshold was reached): eject, longer each time.
            s = self.settings
            cooldown = min(s.max_cooldown_s, s.cooldown_s * 2.0**m.ejections)
            m.ejections += 1
            m.open_until = now + cooldown
            m.ejected_at = now
            m.trial_at = None

    def to_probe(self, now: float, settle_s: float) -> list[str]:
        """Models ejected at least `settle_s` ago (open or half-open): the ones a health
        probe should try. The wait keeps probes off a model in the moments it fails."""
        return [name for name, m in self._models.items()
                if m.ejections and now - m.ejected_at >= settle_s]

    def describe(self, model: str, now: float) -> str:
        m = self._models.get(model)
        if m is None or m.ejections == 0:
            return "healthy" if m is None or m.failures == 0 else f"{m.failures} failure(s)"
        if now < m.open_until:
            return (
                f"ejected for {m.open_until - now:.1f}s more after {m.failures} consecutive"
                f" failures (last: {m.last_reason})"
            )
        if m.trial_at is not None and now - m.trial_at < self.settings.trial_timeout_s:
            return "half-open: its trial request is in flight"
        return "half-open: the next request is its trial"
