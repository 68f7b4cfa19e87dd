"""Spend per team and period, and the budgets it is held to.

Before the first upstream call a team with a budget reserves the request's worst-case cost
(`reserve`): admitted while spent + held stays under the budget, so requests arriving
together cannot all slip past a nearly spent budget, and the overshoot is at most the
requests in flight. `settle`, after the answer, replaces the hold with the cost the metrics
count (a cache hit costs nothing) without the client waiting for it.

With `redis.url` the ledger is shared by every replica (spend_redis: atomic scripts, one
round trip before, one after); without Redis each process keeps its own (a budget is then
per worker and per replica, and a restart forgets it). When Redis cannot answer in
`redis.timeout_ms`, `server.budget_fail` decides: open (admit, the default) or closed
(503); either is counted in `laneway_budget_check_failures_total`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from router.errors import InsufficientQuota, ServiceUnavailable
from router.limits.budget import Period, Team, period_bounds
from router.limits.spend_redis import KEEP_S, SharedBook

if TYPE_CHECKING:
    from policies.catalog import ModelSpec
    from policies.choose import Candidate, Needs
    from router.context import RequestContext
    from router.observe.metrics import Metrics

UNBUDGETED: Period = "month"  # the period a team without a budget is reported by


@dataclass(slots=True)
class Hold:
    team: Team
    bucket: str
    amount: float
    member: str  # the hold's name in Redis; "" when nothing was held (Redis down)


def worst_case(models: Iterable[ModelSpec], input_tokens: int, output_cap: int) -> float:
    """The most a request can cost on any of its candidates: its output cap, or what is
    left of the model's window when it sets none."""
    return max(
        (m.cost(input_tokens, output_cap or max(m.context_window - input_tokens, 0))
         for m in models),
        default=0.0,
    )


class LocalBook:
    """The ledger of one process: (team, bucket) -> [spent, held, requests, saved]."""

    def __init__(self) -> None:
        self.buckets: dict[tuple[str, str], list[float]] = {}

    def reserve(self, team: str, bucket: str, budget: float, amount: float) -> tuple[bool, float]:
        b = self.buckets.setdefault((team, bucket), [0.0, 0.0, 0, 0.0])
        if b[0] + b[1] >= budget:
            return False, b[0]
        b[1] += amount
        return True, b[0]

    def settle(self, team: str, bucket: str, held: float, cost: float, saved: float,
               requests: int) -> float:
        b = self.buckets.setdefault((team, bucket), [0.0, 0.0, 0, 0.0])
        b[0] += cost
        b[1] = max(b[1] - held, 0.0)
        b[2] += requests
        b[3] += saved
        return b[0]

    def totals(self, team: str, bucket: str) -> dict[str, float]:
        spent, held, requests, saved = self.buckets.get((team, bucket), (0.0, 0.0, 0, 0.0))
        return {"spent": spent, "held": held, "requests": requests, "saved": saved}


class Ledger:
    def __init__(self, teams: dict[str, Team], metrics: Metrics, redis_url: str | None = None,
                 timeout_s: float = 0.05, fail: str = "open", previous: Ledger | None = None,
                 cluster: bool = False) -> None:
        self.teams = teams
        self.active = bool(teams)  # no teams: record() and the pipeline skip the ledger
        self.metrics = metrics
        self.fail = fail
        # A reload keeps the process's ledger and (same URL) the Redis connection.
        self.local: LocalBook = previous.local if previous is not None else LocalBook()
        shared: SharedBook | None = previous.shared if previous is not None else None
        self._closing: list[SharedBook] = []
        if shared is not None and shared.url != redis_url:
            self._closing.append(shared)
            shared = None
        if shared is None and redis_url and self.active:
            shared = SharedBook(redis_url, timeout_s, cluster)
        self.shared: SharedBook | None = shared
        if shared is not None:
            shared.on_spent = self._spent
        self._periods: dict[Period, tuple[str, float]] = {}
        self._ids = itertools.count()
        self._prefix = secrets.token_hex(6)  # hold names stay unique across replicas
        for team in teams.values():
            if team.budget is not None:
                metrics.of(metrics.budget_usd, team.name).set(team.budget.usd)

    async def reserve(self, ctx: RequestContext, candidates: Iterable[Candidate], needs: Needs,
                      lane_cap: int | None) -> None:
        """Hold the request's worst case on any of its candidates against its team's
        budget, or raise 429 insufficient_quota (retry-after: the period's end)."""
        team = self.teams.get(ctx.tenant)
        if team is None or team.budget is None:
            return
        budget = team.budget
        now = time.time()
        bucket, end = self._period(budget.period, now)
        cap = min(needs.output_tokens or lane_cap or 0, lane_cap or needs.output_tokens)
        amount = worst_case((c.model for c in candidates), needs.input_tokens, cap)
        if self.shared is None:
            ok, spent = self.local.reserve(team.name, bucket, budget.usd, amount)
            member = "local"
        else:
            member = f"{self._prefix}{next(self._ids):x}:{amount!r}"
            answer = await self.shared.reserve(team.name, bucket, budget.usd, amount, member,
                                               int(end) + KEEP_S)
            if answer is None:
                action = "refused" if self.fail == "closed" else "admitted"
                self.metrics.of(self.metrics.budget_check_failures, team.name, action).inc()
                if self.fail == "closed":
                    raise ServiceUnavailable(
                        "The team's budget cannot be checked right now; retry shortly.",
                        code="budget_unavailable", headers={"retry-after": "1"},
                    )
                ctx.hold = Hold(team, bucket, 0.0, "")
                return
            ok, spent = answer
        self._spent(team.name, spent)
        if not ok and spent < budget.usd:
            # Not spent yet: requests in flight hold the rest, and release what they do
            # not use within their answer's time.
            raise InsufficientQuota(
                f"Team '{team.name}' has ${budget.usd - spent:.6g} of its {budget.period}ly "
                "budget left, all held by its requests in flight; retry when they finish.",
                headers={"retry-after": "1"},
            )
        if not ok:
            raise InsufficientQuota(
                f"Team '{team.name}' has spent its {budget.period}ly budget of "
                f"${budget.usd:g}; it resets at the start of the next {budget.period} (UTC).",
                headers={"retry-after": str(max(1, math.ceil(end - now)))},
            )
        ctx.hold = Hold(team, bucket, amount, member)

    def settle(self, ctx: RequestContext, cost: float, saved: float) -> None:
        """Replace the request's hold by what it cost; never waits."""
        hold: Hold | None = ctx.hold
        team = hold.team if hold is not None else self.teams.get(ctx.tenant)
        if team is None:
            return
        ctx.hold = None
        answered = 1 if ctx.status < 400 else 0
        if hold is None and not answered and not cost:
            return
        if cost:
            self.metrics.of(self.metrics.spend, team.name).inc(cost)
        current, end = self._period(team.budget.period if team.budget else UNBUDGETED,
                                    time.time())
        if hold is not None:  # in the period it was held in, even if that has just ended
            bucket, held, member = hold.bucket, hold.amount, hold.member
        else:
            bucket, held, member = current, 0.0, ""
        if self.shared is None:
            spent = self.local.settle(team.name, bucket, held, cost, saved, answered)
            self._spent(team.name, spent)
        else:
            self.shared.settle(team.name, bucket, member, held, cost, saved, answered,
                               int(end) + KEEP_S)

    async def report(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """The current period of each named team, as `GET /laneway/spend` answers it."""
        now = time.time()
        teams = [self.teams[n] for n in names if n in self.teams]
        periods = [t.budget.period if t.budget else UNBUDGETED for t in teams]
        buckets = [(t.name, period_bounds(p, now)[0]) for t, p in zip(teams, periods, strict=True)]
        if self.shared is None:
            totals = [self.local.totals(*b) for b in buckets]
        else:
            try:
                totals = await self.shared.totals(buckets)
            except Exception:
                raise ServiceUnavailable(
                    "Spend cannot be read right now (Redis is unavailable).",
                    code="spend_unavailable", headers={"retry-after": "1"},
                ) from None
        rows = []
        for team, period, t in zip(teams, periods, totals, strict=True):
            budget = team.budget.usd if team.budget else None
            rows.append({
                "team": team.name,
                "period": period,
                "spent_usd": round(t["spent"], 8),
                "budget_usd": budget,
                "remaining_usd": None if budget is None else round(max(budget - t["spent"], 0), 8),
                "requests": int(t["requests"]),
                "saved_usd": round(t["saved"], 8),
            })
        return rows

    def _period(self, period: Period, now: float) -> tuple[str, float]:
        """period_bounds, remembered until the period ends (a datetime round trip is a few
        microseconds; a bucket changes once a day at most)."""
        known = self._periods.get(period)
        if known is None or now >= known[1]:
            known = self._periods[period] = period_bounds(period, now)
        return known

    def _spent(self, team: str, spent: float) -> None:
        t = self.teams.get(team)
        if t is not None and t.budget is not None:
            remaining = max(t.budget.usd - spent, 0.0)
            self.metrics.of(self.metrics.budget_remaining, team).set(remaining)

    async def close(self) -> None:
        for book in [*self._closing, *([self.shared] if self.shared else [])]:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(book.close(), 2.0)
