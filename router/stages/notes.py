"""The chain's working notes on one request: what a stage leaves for the next ones.

`RequestContext` holds what a request *is* and what it came to (lane, model, tokens, cache
tier, status: what metrics and the log line read); `Notes` holds how the chain got there
(the lane's policy, the candidates, the bodies trimmed per FIM family, the cache plan, the
last failure). One per request, made by `Classify`, read by the stages after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cache.response_cache import CachePlan
    from policies.choose import Choice, Needs
    from policies.lane_memo import Remembered
    from policies.policy import LanePolicy
    from policies.trim import TrimBudget, TrimResult
    from router.upstreams.openai import UpstreamFailure


class Notes:
    __slots__ = ("arm_model", "budget", "by_family", "cache", "choice", "exact", "failure",
                 "lane", "mark", "needs", "remembered", "shared", "variant")

    def __init__(self, lane: LanePolicy, budget: TrimBudget, remembered: Remembered,
                 started: float, exact: bool) -> None:
        self.lane = lane
        self.budget = budget
        self.remembered = remembered  # classify's memo entry (it keeps the trim figures too)
        self.exact = exact  # count small prompts exactly (explain), not by their ceiling
        self.shared: TrimResult | None = None  # the model-independent trim (qa, agentic)
        self.by_family: dict[str | None, TrimResult] | None = None  # completions, per family
        self.choice: Choice | None = None
        self.needs: Needs | None = None
        self.cache: CachePlan | None = None  # for the model being tried
        self.failure: UpstreamFailure | None = None  # the last model's, for the final error
        self.mark = started  # laneway's own time runs from here until each upstream call
        # Set by the feedback stage: an experiment arm's model (for `auto`), and the cache
        # variant of a budget it changed (None: the lane's own).
        self.arm_model: str | None = None
        self.variant: str | None = None
