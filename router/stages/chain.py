"""A request's journey: the chain of stages, in order, and the one function that runs it.

    classify -> feedback -> choose -> [ cache look-up -> trim -> upstream ] per candidate
             -> render -> record

Each stage is a small object built once per runtime (rebuilt on reload) from the config,
the policy and what the runtime shares (chooser, cache, limiter, upstream adapters); a
request pays for plain method calls. Any stage
may answer early (a cache hit, a refusal raised as a LanewayError), which ends the chain.
The front end (router/frontends/) parsed the request into the context before the chain and
renders errors after it; the chain never asks which API the client spoke.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from starlette.responses import Response

from cache.response_cache import ResponseCache
from policies.catalog import ModelSpec
from policies.choose import Chooser
from policies.lane_memo import LaneMemo
from policies.policy import LANE_NAMES, Policy
from policies.trim import TrimBudget
from router.config import Config
from router.context import RequestContext
from router.limits.ratelimit import Limiter
from router.limits.spend import Ledger
from router.observe.metrics import Metrics
from router.stages.cache import CacheLookup
from router.stages.choose import Choose
from router.stages.classify import Classify
from router.stages.record import Record
from router.stages.render import Render
from router.stages.trim import Trim
from router.stages.upstream import Upstream
from router.upstreams.kinds import UpstreamKind
from router.upstreams.openai import Timeouts, UpstreamFailure

if TYPE_CHECKING:
    from router.stages.feedback import FeedbackStage


class Chain:
    __slots__ = ("cache", "choose", "classify", "feedback", "ledger", "record", "render", "trim",
                 "upstream")

    def __init__(
        self, config: Config, policy: Policy, chooser: Chooser, cache: ResponseCache,
        upstreams: Mapping[str, UpstreamKind], limiter: Limiter, metrics: Metrics,
        ledger: Ledger, feedback: FeedbackStage | None = None,
    ) -> None:
        models = config.models
        budgets = _budgets(policy, models)
        self.classify = Classify(LaneMemo(), policy, budgets)
        self.trim = Trim(config.extra_fields)
        self.choose = Choose(chooser, frozenset(config.by_name),
                             ", ".join(m.name for m in models), self.trim, config.teams,
                             config.alias)
        # Per lane: what besides the client's body decides a trimmed body (in cache keys).
        variants = {lane: f"{policy.name}|{budget!r}" for lane, budget in budgets.items()}
        self.cache = CacheLookup(cache, variants)
        self.upstream = Upstream(upstreams, self.cache, chooser, metrics,
                                 _timeouts(policy, models))
        # The yardstick for "saved against sending everything to the largest".
        largest = max(models, key=lambda m: (m.tier, m.price_input + m.price_output))
        self.feedback = feedback  # ids, experiment arms, users' tuning, acceptance
        self.record = Record(metrics, limiter, chooser, largest, config.raw.server.log_prompts,
                             ledger, feedback)
        # Teams' budgets (router/limits/spend.py); None when no team is configured.
        self.ledger = self.record.ledger
        self.render = Render(self.record)

    async def handle(self, ctx: RequestContext) -> Response:
        """The request's answer; a refusal on the way is raised as a LanewayError."""
        self.classify.run(ctx)
        if self.feedback is not None:
            self.feedback.run(ctx)  # the answer's id; the arm or the user's tuning may
        self.choose.run(ctx)        # change the model, the budget and the cache variant
        self.record.begin(ctx)  # in flight from here on: every ending goes through record
        assert ctx.notes is not None and ctx.notes.choice is not None
        if self.ledger is not None:  # a team's budget: its worst case held before any call
            assert ctx.notes.needs is not None
            await self.ledger.reserve(ctx, ctx.notes.choice.candidates, ctx.notes.needs,
                                      ctx.notes.budget.max_output_tokens)
        for candidate in ctx.notes.choice.candidates:  # the fallback: next model on a failure
            model = ctx.model = candidate.model
            hit = self.cache.look_up(ctx, model)  # L1, before trimming
            if hit is None or hit.answer.trim is None:  # (an answer kept without its figures)
                self.trim.run(ctx, model)
                if hit is None:
                    hit = await self.cache.look_up_shared(ctx)  # typeahead, L2
            if hit is not None:
                return self.render.hit(ctx, hit)
            try:
                reply = await self.upstream.call(ctx)  # returns once the answer has started
            except UpstreamFailure as failure:
                self.upstream.failed(ctx, failure)  # raises if no other model may try
                continue
            return self.render.reply(ctx, self.upstream.started(ctx, reply))
        raise self.upstream.give_up(ctx)


def _budgets(policy: Policy, models: Sequence[ModelSpec]) -> dict[str, TrimBudget]:
    """Per lane, from its policy; a lane without an input budget gets its largest window."""
    budgets = {}
    widest = max((m.context_window for m in models), default=1)
    for lane in LANE_NAMES:
        lp = policy.lane(lane)
        window = max((m.context_window for m in models if lane in m.lanes), default=0)
        budgets[lane] = TrimBudget(
            # A lane no model serves still takes pinned requests: any model's window.
            input_tokens=lp.input_tokens or window or widest,
            prefix_share=lp.prefix_share,
            max_output_tokens=lp.max_output_tokens,
            tool_output_tokens=lp.tool_output_tokens,
            scope=lp.scope,
        )
    return budgets


def _timeouts(
    policy: Policy, models: Sequence[ModelSpec]
) -> dict[str | tuple[str, str], Timeouts]:
    """Per lane, and per (lane, model) where a model's `timeout_s` shortens the lane's."""
    timeouts: dict[str | tuple[str, str], Timeouts] = {}
    for lane in LANE_NAMES:
        t = policy.lane(lane).timeouts
        timeouts[lane] = Timeouts(t.connect_s, t.ttft_s, t.idle_s, t.total_s)
        for m in models:
            if m.timeout_s is not None and m.timeout_s < t.total_s:
                cap = m.timeout_s
                timeouts[(lane, m.name)] = Timeouts(
                    min(t.connect_s, cap), min(t.ttft_s, cap), min(t.idle_s, cap), cap
                )
    return timeouts
