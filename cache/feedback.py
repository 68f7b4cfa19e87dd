"""The feedback store: which answer an id names, and the counts its events add up to.

Two implementations behind one interface: in process (one replica, gone on restart) and
Redis (cache/feedback_redis.py: shared by every replica, kept across restarts). Rules both
keep, which the tests hold them to:
- an event counts at most once per id and kind (`shown`, `accepted`, `dismissed`), from
  whichever source comes first (an explicit event or implicit acceptance);
- an event for an unknown id, or for another tenant's answer, changes nothing;
- `accepted` and `dismissed` imply `shown` (an editor may send `select` without `view`),
  so acceptance = accepted / shown never exceeds 1;
- counts are kept per (lane, model, arm) for the metrics and the acceptance statistics, and
  per experiment arm (shown, accepted, cost of what was shown, distinct units) for its
  decision; the decision itself is stored once, the first replica to decide wins.
Answers are remembered for `ttl_s` (10 minutes): editors send their events within
seconds, implicit acceptance comes within 30 s, and at a thousand answers a second an hour
of answers would cost Redis gigabytes. In process, at most `capacity` answers (~20 MB).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

SHOWN, ACCEPTED, DISMISSED = "shown", "accepted", "dismissed"
KINDS = (SHOWN, ACCEPTED, DISMISSED)
SOURCES = ("event", "implicit")


@dataclass(frozen=True, slots=True)
class Answer:
    """What an id names; registered when the answer is sent."""

    tenant: str
    lane: str
    model: str
    arm: str = "none"
    experiment: str = ""  # "" outside experiments
    unit: str = ""
    cost_usd: float = 0.0


@dataclass(slots=True)
class Counts:
    shown: int = 0
    accepted: int = 0  # both sources
    dismissed: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ArmTotals:
    units: int = 0
    shown: int = 0
    accepted: int = 0
    cost_usd: float = 0.0  # of the answers shown


@dataclass(frozen=True, slots=True)
class Counted:
    """An event that counted: the answer, and the kinds it added (an accept may add shown)."""

    answer: Answer
    kinds: tuple[str, ...]


# ("register", id, Answer): remember the answer and count it shown;
# ("event", id, tenant, kind, source): count an event on an answer.
Op = tuple[Any, ...]


class FeedbackStore(Protocol):
    async def apply(self, ops: Sequence[Op]) -> list[Counted | None]:
        """A batch, in order: what each operation counted (None: nothing)."""
        ...

    async def register(self, completion_id: str, answer: Answer) -> None: ...

    async def event(
        self, completion_id: str, tenant: str, kind: str, source: str = "event"
    ) -> Counted | None: ...

    async def totals(self) -> dict[tuple[str, str, str], Counts]: ...

    async def arms(self, experiment: str) -> dict[str, ArmTotals]: ...

    async def decide(self, experiment: str, winner: str) -> str: ...

    async def winner(self, experiment: str) -> str | None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class _Entry:
    answer: Answer
    at: float
    kinds: set[str] = field(default_factory=set)


class MemoryFeedback:
    """In process: exact for one replica; answers bounded (LRU) and kept `ttl_s`."""

    def __init__(
        self, capacity: int = 50_000, ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._ttl = ttl_s
        self._clock = clock
        self._answers: OrderedDict[str, _Entry] = OrderedDict()
        self._totals: dict[tuple[str, str, str], Counts] = {}
        self._arms: dict[str, dict[str, ArmTotals]] = {}
        self._units: dict[tuple[str, str], set[str]] = {}
        self._winners: dict[str, str] = {}

    async def apply(self, ops: Sequence[Op]) -> list[Counted | None]:
        out: list[Counted | None] = []
        for op in ops:
            if op[0] == "register":
                await self.register(op[1], op[2])
                out.append(await self.event(op[1], op[2].tenant, SHOWN))
            else:
                out.append(await self.event(*op[1:]))
        return out

    async def register(self, completion_id: str, answer: Answer) -> None:
        self._answers[completion_id] = _Entry(answer, self._clock())
        if len(self._answers) > self._capacity:
            self._answers.popitem(last=False)
        if answer.experiment:
            units = self._units.setdefault((answer.experiment, answer.arm), set())
            units.add(answer.unit)
            self._arm(answer).units = len(units)

    async def event(
        self, completion_id: str, tenant: str, kind: str, source: str = "event"
    ) -> Counted | None:
        entry = self._answers.get(completion_id)
        if entry is None or entry.answer.tenant != tenant or kind not in KINDS:
            return None
        if self._clock() - entry.at > self._ttl:
            del self._answers[completion_id]
            return None
        added = tuple(k for k in ((SHOWN, kind) if kind != SHOWN else (SHOWN,))
                      if k not in entry.kinds)
        if kind not in added:
            return None  # this kind was counted before: idempotent
        entry.kinds.update(added)
        a = entry.answer
        counts = self._totals.setdefault((a.lane, a.model, a.arm), Counts())
        for k in added:
            if k == SHOWN:
                counts.shown += 1
            elif k == ACCEPTED:
                counts.accepted += 1
                counts.by_source[source] = counts.by_source.get(source, 0) + 1
            else:
                counts.dismissed += 1
            if a.experiment and k in (SHOWN, ACCEPTED):
                arm = self._arm(a)
                if k == SHOWN:
                    arm.shown += 1
                    arm.cost_usd += a.cost_usd
                else:
                    arm.accepted += 1
        return Counted(a, added)

    def _arm(self, a: Answer) -> ArmTotals:
        return self._arms.setdefault(a.experiment, {}).setdefault(a.arm, ArmTotals())

    async def totals(self) -> dict[tuple[str, str, str], Counts]:
        return {k: Counts(c.shown, c.accepted, c.dismissed, dict(c.by_source))
                for k, c in self._totals.items()}

    async def arms(self, experiment: str) -> dict[str, ArmTotals]:
        return {n: ArmTotals(t.units, t.shown, t.accepted, t.cost_usd)
                for n, t in self._arms.get(experiment, {}).items()}

    async def decide(self, experiment: str, winner: str) -> str:
        return self._winners.setdefault(experiment, winner)

    async def winner(self, experiment: str) -> str | None:
        return self._winners.get(experiment)

    async def close(self) -> None:
        return None
