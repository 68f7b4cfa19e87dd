"""Acceptance learned from live feedback, per (lane, model), decayed so it follows change.

The exact totals (shown, accepted) live in the feedback store, shared by every replica
through Redis when configured. Each replica folds the growth of those totals into its own
decayed counts (`absorb`), so every replica learns from every event, wherever it arrived,
without decaying anything in Redis. The weight of old evidence halves every
`half_life_s`: a model that got worse is noticed within a few half-lives, and the decayed
count, which bounds the interval's width, keeps the choice responsive.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.sequential import Rate


@dataclass(slots=True)
class _Decayed:
    shown: float = 0.0
    accepted: float = 0.0
    at: float = 0.0
    seen_shown: int = 0  # the store's totals when last absorbed
    seen_accepted: int = 0


class AcceptanceBoard:
    def __init__(self, half_life_s: float = 3600.0) -> None:
        if half_life_s <= 0:
            raise ValueError("half_life_s must be positive")
        self._half_life = half_life_s
        self._series: dict[tuple[str, str], _Decayed] = {}

    def absorb(self, lane: str, model: str, shown: int, accepted: int, now: float) -> None:
        """The store's exact totals for (lane, model); only their growth is new evidence.
        Totals that went down (a store that was reset) restart the count from them."""
        s = self._series.get((lane, model))
        if s is None:
            s = self._series[(lane, model)] = _Decayed(at=now)
        new_shown = shown - s.seen_shown
        new_accepted = accepted - s.seen_accepted
        if new_shown < 0 or new_accepted < 0:
            new_shown, new_accepted = shown, accepted
        if new_shown == 0 and new_accepted == 0:
            return
        keep = 0.5 ** (max(0.0, now - s.at) / self._half_life)
        s.shown = s.shown * keep + new_shown
        s.accepted = min(s.shown, s.accepted * keep + new_accepted)
        s.at = now
        s.seen_shown, s.seen_accepted = shown, accepted

    def rate(self, lane: str, model: str) -> Rate | None:
        s = self._series.get((lane, model))
        return None if s is None or s.shown <= 0 else Rate(s.accepted, s.shown)
