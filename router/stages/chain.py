"""A request's journey: the chain of stages, in order, and the one function that runs it.

    classify -> feedback -> choose -> [ cache look-up -> trim -> upstream ] per candidate
             -> render -> record

Each stage is a small object built once per runtime (rebuilt on reload) from the config,
the policy and the runtime's shared state; a request pays for plain method calls. Any stage
may answer early (a cache hit, a refusal raised as a LanewayError), which ends the chain.
The front end (router/frontends/) parsed the request into the context before the chain and
renders errors after it; the chain never asks which API the client spoke.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from router.context import RequestContext
from router.stages.cache import CacheLookup
from router.stages.choose import Choose
from router.stages.classify import Classify
from router.stages.record import Record
from router.stages.render import Render
from router.stages.trim import Trim
from router.stages.upstream import Upstream
from router.upstreams.openai import UpstreamFailure

if TYPE_CHECKING:
    from router.runtime import Runtime


class Chain:
    __slots__ = ("cache", "choose", "classify", "feedback", "record", "render", "trim",
                 "upstream")

    def __init__(self, rt: Runtime) -> None:
        models = rt.config.models
        self.classify = Classify(rt.lanes, rt.policy, rt.budgets)
        self.trim = Trim()
        self.choose = Choose(rt.chooser, frozenset(rt.config.by_name),
                             ", ".join(m.name for m in models), self.trim)
        self.cache = CacheLookup(rt.cache, rt.variants)
        self.upstream = Upstream(rt.upstreams, self.cache, rt.chooser, rt.metrics, rt.timeouts)
        self.feedback = rt.feedback  # ids, experiment arms, users' tuning, acceptance
        self.record = Record(rt.metrics, rt.limiter, rt.chooser, rt.largest,
                             rt.config.raw.server.log_prompts, rt.feedback)
        self.render = Render(self.record)

    async def handle(self, ctx: RequestContext) -> Response:
        """The request's answer; a refusal on the way is raised as a LanewayError."""
        self.classify.run(ctx)
        if self.feedback is not None:
            self.feedback.run(ctx)  # the answer's id; the arm or the user's tuning may
        self.choose.run(ctx)        # change the model, the budget and the cache variant
        self.record.begin(ctx)  # in flight from here on: every ending goes through record
        assert ctx.notes is not None and ctx.notes.choice is not None
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
