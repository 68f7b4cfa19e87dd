"""A request's journey: classify -> choose -> trim -> cache -> upstream (with fallback) -> record.

`Pipeline.handle` is the one function to read to see what laneway does to a request.
Recording (metrics, latency stats, cache writes) happens after the answer is on its way.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from router.context import RequestContext
from router.errors import (
    LanewayError,
    NoHealthyModel,
    RateLimited,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from router.runtime import Runtime
from router.stages import cache as cache_stage
from router.stages.feedback import FeedbackStage
from router.stages.plan import plan
from router.stages.record import RecordAfter, begin, record
from router.upstreams.openai import Reply, StreamBroken, UpstreamFailure
from router.upstreams.sse import stream_ended_cleanly


class Pipeline:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def handle(self, ctx: RequestContext) -> Response:
        rt = self.rt
        p = plan(rt, ctx)
        begin(rt, ctx)  # in flight from here on: every ending goes through record()
        lp = p.lane
        failure: UpstreamFailure | None = None
        mark = ctx.started  # laneway's own time runs from here until each upstream call
        for candidate in p.choice.candidates:
            model = ctx.model = candidate.model
            # cache seam: keyed per model on the client's body; an L1 hit answers before
            # any trimming, a miss shares its upstream call.
            cp = cache_stage.plan_for(rt.cache, ctx, lp, model, p.variant)
            hit = cache_stage.l1_hit(rt, ctx, cp)
            if hit is not None and hit.answer.trim is not None:
                return cache_stage.respond(rt, ctx, cp, hit)
            body, trim = p.body_for(ctx, model)
            ctx.upstream_body = body
            ctx.tokens_before, ctx.trimmed_tokens = trim.tokens_before, trim.trimmed_tokens
            ctx.input_tokens, ctx.scope = trim.tokens_after, trim.scope
            if hit is not None:  # an answer stored without its trim summary
                return cache_stage.respond(rt, ctx, cp, hit)
            cp = cache_stage.refine(rt.cache, ctx, lp, cp, body, trim)
            early = await cache_stage.answer_early(rt, ctx, cp)
            if early is not None:
                return early
            opened = time.perf_counter()
            ctx.overhead_s += opened - mark
            try:
                reply = await cache_stage.open_shared(rt, ctx, cp, functools.partial(
                    rt.client_for(model).open, model, ctx.endpoint, body, ctx.stream,
                    rt.timeouts_for(ctx.lane, model), opened,
                ))
            except UpstreamFailure as f:
                mark = time.perf_counter()  # the failed attempt's wait was the upstream's
                failure = f
                ctx.attempts.append((model.name, f.reason))
                shared = isinstance(f, cache_stage.SharedFailure)  # counted by its leader
                if not shared:
                    rt.metrics.upstream_errors.labels(model.name, f.reason).inc()
                if not f.retryable:
                    break  # the request itself was refused: another model would refuse it too
                if not shared:
                    rt.chooser.record_failure(model.name, f.reason)
                continue
            # A non-streamed answer's time covers the whole generation, not the first token.
            ttft = reply.ttft_s if ctx.stream else None
            if ctx.cache in ("miss", "bypass"):  # a shared or cached answer says little
                rt.chooser.record_success(model.name, ctx.lane, ttft, p.needs.session)
            ctx.ttft_s = time.perf_counter() - ctx.started
            ctx.attempts.append((model.name, "ok"))
            stamp = FeedbackStage.stamp
            if reply.rest is None:
                return Response(
                    stamp(ctx, reply.first),
                    media_type=reply.content_type,
                    headers=ctx.answer_headers(),
                    background=RecordAfter(rt, ctx, [reply.first], True),
                )
            return StreamingResponse(
                self._relay(ctx, reply),
                media_type="text/event-stream",
                headers=ctx.answer_headers() | {"cache-control": "no-cache"},
            )
        raise _give_up(ctx, failure)

    async def _relay(self, ctx: RequestContext, reply: Reply) -> AsyncIterator[bytes]:
        chunks = [reply.first]
        complete = False
        stamp = FeedbackStage.stamp  # laneway's id in every chunk
        try:
            yield stamp(ctx, reply.first)
            assert reply.rest is not None
            try:
                async for chunk in reply.rest:
                    chunks.append(chunk)
                    yield stamp(ctx, chunk)
            except StreamBroken as broken:
                ctx.status, ctx.error_reason = 502, broken.reason
                yield UpstreamError(broken.message).sse_event()
                return
            if stream_ended_cleanly(chunks, ctx.endpoint):
                complete = True
            else:
                # The upstream hung up mid-answer: say so instead of pretending it finished.
                ctx.status, ctx.error_reason = 502, "stream_cut"
                yield UpstreamError(
                    f"Model '{ctx.model.name if ctx.model else '?'}' ended the stream early."
                ).sse_event()
        finally:
            if ctx.status == 200 and not complete:
                ctx.status, ctx.error_reason = 499, "client_gone"
            if reply.rest is not None:
                await reply.rest.aclose()  # type: ignore[attr-defined]
            reply.close()
            record(self.rt, ctx, chunks, complete)


def _give_up(ctx: RequestContext, failure: UpstreamFailure | None) -> LanewayError:
    if failure is None:
        return NoHealthyModel(f"Every model for the '{ctx.lane}' lane is unavailable right now.")
    ctx.error_reason = failure.reason
    tried = ", ".join(name for name, _ in ctx.attempts)
    if not failure.retryable and failure.status is not None and 400 <= failure.status < 500:
        return UpstreamRejected(failure.message, failure.status)
    if failure.reason == "timeout":
        return UpstreamTimeout(f"No model answered in time (tried: {tried}).")
    if all(outcome == "status_429" for _, outcome in ctx.attempts):
        return RateLimited(
            f"Every model is rate limited (tried: {tried}).",
            headers={"retry-after": failure.retry_after or "1"},
        )
    return UpstreamError(f"{failure.message} (tried: {tried}).")
