"""Experiments: split one lane's traffic between arms, and stop when the answer is known.

- Assignment is a hash of (experiment, unit), so a unit (the request's `user`, else the
  `x-laneway-user` header, else the tenant) keeps its arm on every replica and across
  restarts without any shared state; weights set each arm's share of the hash space.
- The decision (policies/sequential.py: mSPRT / normal-mixture confidence sequence) may be
  checked after every event: with `confidence` 0.95 an A/A experiment declares a winner in
  at most ~5% of runs however often it is looked at. No arm is judged before it has been
  shown `min_shown` times. With several arms, the winner must beat each other arm, at
  alpha / (arms - 1) per comparison (Bonferroni), so the whole decision keeps its level.
- `promote`: once decided, every unit is served by the winner; counting goes on, and the
  answer names the arm that served it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies.sequential import Rate, better_by, interval

NO_ARM = "none"  # the metrics' arm label outside experiments


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArmConfig(_Strict):
    """One arm: a model and/or overrides of the lane's policy."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    model: str | None = None
    weight: float = Field(default=1.0, gt=0)
    max_output_tokens: int | None = Field(default=None, gt=0)  # output cap
    scope: Literal["line", "block"] | None = None  # completion scope, forced
    input_tokens: int | None = Field(default=None, gt=0)  # trimming budget


class ExperimentConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    lane: Literal["completion", "qa", "agentic"] = "completion"
    arms: tuple[ArmConfig, ...] = Field(min_length=2)
    min_shown: int = Field(default=200, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    promote: bool = True

    @model_validator(mode="after")
    def _distinct(self) -> ExperimentConfig:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name}: arm names must be distinct")
        return self


@dataclass(frozen=True, slots=True)
class ArmCounts:
    shown: int = 0
    accepted: int = 0


def unit_of(user: object, header_user: str | None, tenant: str) -> str:
    """The unit that keeps one arm: `user` field, else `x-laneway-user`, else the tenant."""
    if isinstance(user, str) and user:
        return user
    if header_user:
        return header_user
    return tenant


class Experiment:
    """An experiment's fixed parts; its counts live in the feedback store."""

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.name = config.name
        self.lane = config.lane
        self.arms = {a.name: a for a in config.arms}
        total = sum(a.weight for a in config.arms)
        edges: list[tuple[float, ArmConfig]] = []
        acc = 0.0
        for a in config.arms:
            acc += a.weight / total
            edges.append((acc, a))
        self._edges = tuple(edges)
        self._salt = config.name.encode() + b"\x00"

    def assign(self, unit: str, winner: str | None = None) -> ArmConfig:
        """The unit's arm: the winner once promoted, else its hash's share of the weights."""
        if winner is not None and self.config.promote and winner in self.arms:
            return self.arms[winner]
        digest = hashlib.blake2b(self._salt + unit.encode(), digest_size=8).digest()
        x = int.from_bytes(digest, "big") / 2.0**64
        for edge, arm in self._edges:
            if x < edge:
                return arm
        return self._edges[-1][1]

    def decide(self, counts: Mapping[str, ArmCounts]) -> str | None:
        """The winning arm's name, or None while undecided. Safe to call after every event."""
        cfg = self.config
        rates = {
            a.name: Rate(counts[a.name].accepted, counts[a.name].shown) if a.name in counts
            else Rate(0, 0)
            for a in cfg.arms
        }
        if any(r.shown < cfg.min_shown for r in rates.values()):
            return None
        best = max(rates, key=lambda n: rates[n].mean)
        others = [n for n in rates if n != best]
        level = 1.0 - (1.0 - cfg.confidence) / len(others)
        if all(better_by(rates[o], rates[best], 0.0, level) for o in others):
            return best
        return None


def ci95(counts: ArmCounts) -> tuple[float, float]:
    """An arm's acceptance rate interval (always valid, like the decision)."""
    return interval(Rate(counts.accepted, counts.shown), 0.05)

