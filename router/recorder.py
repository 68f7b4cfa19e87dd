"""The last stage: metrics and stats after the answer has gone out; never delays the client."""

from __future__ import annotations

import time

from router.context import RequestContext
from router.runtime import Runtime
from router.sse import usage_of


def record(rt: Runtime, ctx: RequestContext, chunks: list[bytes], complete: bool) -> None:
    m = rt.metrics
    lane = ctx.lane
    model = ctx.model.name if ctx.model else "none"
    if complete and ctx.model is not None:
        usage, chars = usage_of(chunks, ctx.stream)
        if usage:
            ctx.input_tokens = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
            ctx.output_tokens = int(
                usage.get("completion_tokens") or usage.get("output_tokens") or 0
            )
        else:
            ctx.output_tokens = chars // 4
        cost = ctx.model.cost(ctx.input_tokens, ctx.output_tokens)
        m.cost.labels(lane, model).inc(cost)
        if rt.largest is not None:
            saved = rt.largest.cost(ctx.input_tokens, ctx.output_tokens) - cost
            if saved > 0:
                m.cost_saved.labels(lane).inc(saved)
        m.tokens.labels(lane, model, "input").inc(ctx.input_tokens)
        m.tokens.labels(lane, model, "output").inc(ctx.output_tokens)
    if ctx.trimmed_tokens:
        m.tokens.labels(lane, model, "trimmed").inc(ctx.trimmed_tokens)
    m.requests.labels(lane, model, str(ctx.status), ctx.cache).inc()
    m.duration.labels(lane, model).observe(time.perf_counter() - ctx.started)
    if ctx.ttft_s is not None:
        m.ttft.labels(lane, model).observe(ctx.ttft_s)
    m.overhead.labels(lane).observe(ctx.overhead_s)
