"""Stage 1, classify: the request's lane and why (policies/lanes), remembered per small body."""

from __future__ import annotations

from policies.lane_memo import LaneMemo
from policies.policy import Policy
from policies.trim import TrimBudget
from router.context import RequestContext
from router.stages.notes import Notes


class Classify:
    def __init__(self, lanes: LaneMemo, policy: Policy, budgets: dict[str, TrimBudget]) -> None:
        self.lanes = lanes
        self.policy = policy
        self.budgets = budgets

    def run(self, ctx: RequestContext, exact: bool = False) -> None:
        remembered = self.lanes.recall(ctx.endpoint, ctx.body, ctx.headers, ctx.body_bytes)
        ctx.decision = decision = remembered.decision
        lane = decision.lane._value_
        ctx.notes = Notes(self.policy.lane(lane), self.budgets[lane], remembered, ctx.started,
                          exact)
