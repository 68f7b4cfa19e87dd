"""Per-user adaptation of the completion lane: scope (line vs block) and output cap chosen
from that user's own acceptance, starting from the lane's defaults.

"Understands you better the more you use it", in two measured steps:
- scope: some users take multi-line blocks, others only ever the rest of the line. Once a
  user's block answers are accepted less than their line answers by more than `margin`
  at `confidence` (the always-valid interval: judged on every request without flapping),
  their completions stop at the end of the line; until then the lane's rule decides.
- output cap: the tokens of what a user accepted; once `min_accepted` answers were taken,
  the cap is twice the longest of their last accepted ones (at least `floor`), never
  above the lane's cap. A user who takes short answers stops paying for long ones.
Keyed by (tenant, unit), bounded, least recently used dropped first: a unit of one tenant
never shapes another tenant's answers.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

from policies.scope import BLOCK, LINE
from policies.sequential import Rate, better_by


@dataclass(slots=True)
class _Profile:
    shown: dict[str, int] = field(default_factory=lambda: {LINE: 0, BLOCK: 0})
    accepted: dict[str, int] = field(default_factory=lambda: {LINE: 0, BLOCK: 0})
    lengths: deque[int] = field(default_factory=lambda: deque(maxlen=16))


@dataclass(frozen=True, slots=True)
class Tuning:
    scope: str | None  # LINE: force line scope; None: the lane's rule decides
    max_output_tokens: int | None  # None: the lane's cap
    reason: str | None = None


DEFAULT = Tuning(None, None)


class UserTuning:
    def __init__(
        self,
        capacity: int = 100_000,
        margin: float = 0.05,
        confidence: float = 0.95,
        min_accepted: int = 10,
        floor: int = 16,
    ) -> None:
        self._capacity = capacity
        self._margin = margin
        self._confidence = confidence
        self._min_accepted = min_accepted
        self._floor = floor
        self._profiles: OrderedDict[tuple[str, str], _Profile] = OrderedDict()

    def _profile(self, tenant: str, unit: str) -> _Profile:
        key = (tenant, unit)
        p = self._profiles.get(key)
        if p is None:
            p = self._profiles[key] = _Profile()
            if len(self._profiles) > self._capacity:
                self._profiles.popitem(last=False)
        else:
            self._profiles.move_to_end(key)
        return p

    def shown(self, tenant: str, unit: str, scope: str) -> None:
        if scope in (LINE, BLOCK):
            self._profile(tenant, unit).shown[scope] += 1

    def accepted(self, tenant: str, unit: str, scope: str, output_tokens: int) -> None:
        p = self._profile(tenant, unit)
        if scope in (LINE, BLOCK):
            p.accepted[scope] = min(p.shown[scope], p.accepted[scope] + 1)
        if output_tokens > 0:
            p.lengths.append(output_tokens)

    def tuning(self, tenant: str, unit: str, lane_cap: int | None) -> Tuning:
        p = self._profiles.get((tenant, unit))
        if p is None:
            return DEFAULT
        scope = None
        why: list[str] = []
        line = Rate(p.accepted[LINE], p.shown[LINE])
        block = Rate(p.accepted[BLOCK], p.shown[BLOCK])
        if block.shown and better_by(block, line, self._margin, self._confidence):
            scope = LINE
            why.append(f"user takes lines ({line.mean:.0%}) over blocks ({block.mean:.0%})")
        cap = None
        if len(p.lengths) >= self._min_accepted:
            cap = max(self._floor, 2 * max(p.lengths))
            if lane_cap is not None and cap >= lane_cap:
                cap = None
            else:
                why.append(f"user's accepted answers <= {max(p.lengths)} tokens")
        if scope is None and cap is None:
            return DEFAULT
        return Tuning(scope, cap, "; ".join(why))

    def __len__(self) -> int:
        return len(self._profiles)
