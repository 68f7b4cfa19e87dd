"""Stage 7, record: metrics, spend on the limiter and the access line, after the answer.

`begin` marks a request in flight once its lane is known; `run` closes it exactly once,
whatever the ending (answer, error, upstream failure, client gone), so the in-flight gauge
cannot drift. Neither delays the client: `run` goes after the last byte.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from starlette.background import BackgroundTask

from cache.feedback import Answer
from cache.sse import usage_of
from policies.catalog import ModelSpec
from policies.choose import Chooser
from policies.policy import LANE_NAMES
from router.context import RequestContext
from router.limits.ratelimit import Limiter
from router.limits.spend import Ledger
from router.observe import logline
from router.observe.metrics import Metrics, add, observe

if TYPE_CHECKING:
    from router.runtime import Runtime
    from router.stages.feedback import FeedbackStage

# Answers that cost no upstream call of their own.
CACHE_HITS = frozenset({"l1", "l2", "typeahead", "coalesced"})


class Record:
    """Stage 7: closes each request's books once; built once per runtime."""

    def __init__(self, metrics: Metrics, limiter: Limiter, chooser: Chooser,
                 largest: ModelSpec, log_prompts: bool, ledger: Ledger | None = None,
                 feedback: FeedbackStage | None = None) -> None:
        self.feedback = feedback  # a delivered answer counts as shown (off the client's path)
        self.metrics = metrics
        self.limiter = limiter
        self.chooser = chooser
        self.largest = largest  # the yardstick for "saved against sending all to the largest"
        self.log_prompts = log_prompts
        self.ledger = ledger if ledger is not None and ledger.active else None  # teams' spend

    def begin(self, ctx: RequestContext) -> None:
        """Count the request in flight; call once, as soon as its lane is decided."""
        if ctx.inflight_lane is None:
            ctx.inflight_lane = ctx.lane
            add(self.metrics.of(self.metrics.inflight, ctx.inflight_lane))

    def run(
        self, ctx: RequestContext, chunks: Sequence[bytes] = (), complete: bool = False
    ) -> None:
        """Close the request: `chunks` is what the upstream (or cache) sent back, `complete`
        whether the client got the whole answer. A second call for the same request is a
        no-op."""
        if ctx.recorded:
            return
        ctx.recorded = True
        m = self.metrics
        if ctx.inflight_lane is not None:
            add(m.of(m.inflight, ctx.inflight_lane), -1)
        duration = time.perf_counter() - ctx.started
        lane = ctx.lane
        model = ctx.model.name if ctx.model else "none"
        cost = saved = 0.0
        if chunks and ctx.model is not None:
            _count_usage(ctx, list(chunks))
            if ctx.cache not in CACHE_HITS:
                # A cut-off stream was still generated, and billed, upstream.
                cost = ctx.model.cost(ctx.input_tokens, ctx.output_tokens, ctx.cached_tokens)
                add(m.of(m.cost, lane, model), cost)
                add(m.of(m.tokens, lane, model, "input"), ctx.input_tokens)
                add(m.of(m.tokens, lane, model, "output"), ctx.output_tokens)
                self.limiter.charge(ctx.tenant, ctx.input_tokens + ctx.output_tokens)
            if complete:
                # The yardstick: no laneway, every request as sent (untrimmed) to the largest
                # model. A cache hit saves that whole cost.
                sent = ctx.input_tokens + ctx.trimmed_tokens
                saved = max(0.0, self.largest.cost(sent, ctx.output_tokens) - cost)
                if saved > 0:
                    add(m.of(m.cost_saved, lane), saved)
                note = ctx.feedback
                if note is not None and ctx.status == 200 and self.feedback is not None:
                    self.feedback.delivered(ctx, chunks, cost, Answer(
                        ctx.tenant, lane, model, note.arm, note.experiment, note.unit, cost))
        if self.ledger is not None:  # the team's spend, and its hold released: not awaited
            self.ledger.settle(ctx, cost, saved)
        if ctx.trimmed_tokens:
            add(m.of(m.tokens, lane, model, "trimmed"), ctx.trimmed_tokens)
        add(m.of(m.requests, lane, model, str(ctx.status), ctx.cache))
        observe(m.of(m.duration, lane, model), duration)
        if ctx.ttft_s is not None:
            observe(m.of(m.ttft, lane, model), ctx.ttft_s)
        observe(m.of(m.overhead, lane), ctx.overhead_s)
        for name in {name for name, _ in ctx.attempts}:
            sync_model_up(m, self.chooser, name)
        logline.emit(ctx, cost, saved, duration, self.log_prompts)


class RecordAfter(BackgroundTask):
    """`Record.run` as a Response's background task, run on the loop after the last byte.
    Async on purpose: Starlette runs a synchronous background task in its thread pool (a
    thread wake-up and a GIL fight per request for ~12 µs of work). No
    BackgroundTask.__init__, which inspects the function on every request (~1.5 us) to
    learn what is known here. Responses only await it."""

    def __init__(  # no super().__init__(): see above
        self, record: Record, ctx: RequestContext, chunks: Sequence[bytes] = (),
        complete: bool = False,
    ) -> None:
        self.record, self.ctx, self.chunks, self.complete = record, ctx, chunks, complete

    async def __call__(self) -> None:
        self.record.run(self.ctx, self.chunks, self.complete)


def describe(rt: Runtime) -> None:
    """Publish a (re)built runtime's shape: lanes per model, each lane's target, and model
    health as the breakers (carried over a reload) know it."""
    targets = {lane: rt.policy.lane(lane).ttft_target_ms / 1000 for lane in LANE_NAMES}
    rt.metrics.describe(rt.config.models, targets)
    for m in rt.config.models:
        sync_model_up(rt.metrics, rt.chooser, m.name)


def sync_model_up(metrics: Metrics, chooser: Chooser, model: str) -> None:
    """Mirror a model's circuit breaker into `laneway_model_up`: 0 from its ejection until a
    request succeeds on it again (half-open counts as still ejected)."""
    closed = chooser.breakers.state(model, time.monotonic()) == "closed"
    metrics.set_model_up(model, closed)


def _count_usage(ctx: RequestContext, chunks: list[bytes]) -> None:
    usage, chars = usage_of(chunks, ctx.stream)
    if usage:
        ctx.output_tokens = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
        prompt = usage.get("prompt_tokens")
        if prompt is not None:  # OpenAI: cached tokens are part of the prompt's
            details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
            ctx.input_tokens = int(prompt or 0)
            ctx.cached_tokens = int(details.get("cached_tokens") or 0) if isinstance(
                details, dict) else 0
            return
        # Messages counts cache reads and writes apart from `input_tokens`; Responses
        # reports `input_tokens` with details like chat's.
        read = int(usage.get("cache_read_input_tokens") or 0)
        written = int(usage.get("cache_creation_input_tokens") or 0)
        ctx.input_tokens = int(usage.get("input_tokens") or 0) + read + written
        details = usage.get("input_tokens_details")
        ctx.cached_tokens = read or (int(details.get("cached_tokens") or 0) if isinstance(
            details, dict) else 0)
    elif chars:
        # No usage (a stream without include_usage, or cut off): ~4 characters a token;
        # the input count stays the pipeline's own estimate.
        ctx.output_tokens = chars // 4
