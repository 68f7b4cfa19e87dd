"""Teams and their budgets: what a team may spend per period, and when a period ends.

Pure: no I/O. Periods are calendar periods in UTC (a day, an ISO week from Monday, a
month), so every replica agrees on which bucket a request's spend goes to, and a refused
team knows to the second when it may try again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "week", "month"]

# Team names appear in Redis keys (inside a cluster hash tag), metric labels and log lines.
TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# A bare key's tenant id looks like this: no team may take such a name.
BARE_TENANT = re.compile(r"^t-[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class Budget:
    usd: float
    period: Period = "month"


@dataclass(frozen=True, slots=True)
class Team:
    """What the keys of one team share. `models` None: every configured model."""

    name: str
    budget: Budget | None = None
    models: frozenset[str] | None = None
    rpm: int | None = None
    tpm: int | None = None

    def may_use(self, model: str) -> bool:
        return self.models is None or model in self.models


def period_bounds(period: Period, now: float) -> tuple[str, float]:
    """The bucket's name (e.g. "m2026-12") and when it ends (a Unix time), for `now`."""
    t = datetime.fromtimestamp(now, UTC)
    day = datetime(t.year, t.month, t.day, tzinfo=UTC)
    if period == "day":
        return "d" + day.strftime("%Y-%m-%d"), (day + timedelta(days=1)).timestamp()
    if period == "week":
        start = day - timedelta(days=t.weekday())
        year, week, _ = start.isocalendar()
        return f"w{year}-W{week:02d}", (start + timedelta(days=7)).timestamp()
    nxt = datetime(t.year + t.month // 12, t.month % 12 + 1, 1, tzinfo=UTC)
    return f"m{t.year}-{t.month:02d}", nxt.timestamp()
