"""A request's journey: classify -> choose -> trim -> cache -> upstream (with fallback) -> record.

`Pipeline.handle` is the one function to read to see what laneway does to a request.
Recording (metrics, latency stats, cache writes) happens after the answer is on its way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from policies.catalog import ModelSpec
from policies.lanes import classify
from router.context import RequestContext
from router.errors import (
    LanewayError,
    ModelNotFound,
    NoHealthyModel,
    RateLimited,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from router.recorder import record
from router.runtime import Runtime
from router.sse import stream_ended_cleanly
from router.upstream import Reply, StreamBroken, Timeouts, UpstreamFailure

LANE_TIMEOUTS = {
    "completion": Timeouts(connect_s=2.0, ttft_s=10.0, idle_s=10.0, total_s=60.0),
    "qa": Timeouts(connect_s=5.0, ttft_s=60.0, idle_s=60.0, total_s=600.0),
    "agentic": Timeouts(connect_s=5.0, ttft_s=120.0, idle_s=120.0, total_s=1800.0),
}


class Pipeline:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def handle(self, ctx: RequestContext) -> Response:
        ctx.decision = classify(ctx.endpoint, ctx.body, ctx.headers)
        models = self._candidates(ctx)
        timeouts = LANE_TIMEOUTS[ctx.lane]
        failure: UpstreamFailure | None = None
        for model in models:
            ctx.model = model
            body = self._prepare(ctx, model)
            # cache seam: lookup (per chosen model) goes here; an early answer returns.
            ctx.overhead_s += time.perf_counter() - ctx.started
            client = self.rt.client_for(model)
            opened = time.perf_counter()
            try:
                reply = await client.open(model, ctx.endpoint, body, ctx.stream, timeouts, opened)
            except UpstreamFailure as f:
                failure = f
                ctx.attempts.append((model.name, f.reason))
                self.rt.metrics.upstream_errors.labels(model.name, f.reason).inc()
                if not f.retryable:
                    break
                continue
            ctx.ttft_s = time.perf_counter() - ctx.started
            ctx.attempts.append((model.name, "ok"))
            if reply.rest is None:
                return Response(
                    reply.first,
                    media_type=reply.content_type,
                    headers=ctx.answer_headers(),
                    background=BackgroundTask(record, self.rt, ctx, [reply.first], True),
                )
            return StreamingResponse(
                self._relay(ctx, reply),
                media_type="text/event-stream",
                headers=ctx.answer_headers() | {"cache-control": "no-cache"},
            )
        raise _give_up(ctx, failure)

    def _candidates(self, ctx: RequestContext) -> list[ModelSpec]:
        name = ctx.requested_model
        if name == "auto":
            models = list(self.rt.by_lane.get(ctx.lane, ()))
            if not models:
                raise NoHealthyModel(f"No configured model serves the '{ctx.lane}' lane.")
            return models
        pinned = self.rt.config.by_name.get(name)
        if pinned is None:
            raise ModelNotFound(
                f"The model '{name}' does not exist. Use 'auto' or one of: "
                + ", ".join(m.name for m in self.rt.config.models),
                param="model",
            )
        return [pinned, *(self.rt.config.by_name[f] for f in pinned.fallbacks)]

    def _prepare(self, ctx: RequestContext, model: ModelSpec) -> dict[str, Any]:
        body = dict(ctx.body)
        body["model"] = model.upstream_model
        ctx.upstream_body = body
        return body

    async def _relay(self, ctx: RequestContext, reply: Reply) -> AsyncIterator[bytes]:
        chunks = [reply.first]
        complete = False
        try:
            yield reply.first
            assert reply.rest is not None
            try:
                async for chunk in reply.rest:
                    chunks.append(chunk)
                    yield chunk
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
