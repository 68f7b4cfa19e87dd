"""The cache stage: where the pipeline meets `cache/` (plan, early answer, shared upstream call).

Per candidate model: `plan_for` keys the request as it would be sent to that model;
`answer_early` answers an L1/L2/typeahead hit on the spot; `open_shared` replaces the
upstream `open()` for cacheable requests — identical requests in flight share one call
(single-flight) and each gets a `Reply` fed from it, so the rest of the pipeline (relay,
fallback, recording) is the same for a leader, a follower and a request that bypasses.

Failures keep the pipeline's meaning: before the first byte they are `UpstreamFailure`s
(a follower's is a `SharedFailure`: the pipeline falls back to the next model but does not
count it against the model again), after it `StreamBroken`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.responses import Response

from cache.response_cache import CachePlan, FimParts, Hit, ResponseCache
from cache.singleflight import Flight, FlightFailed, LeaderLeft
from policies.catalog import ModelSpec
from policies.fim import parse as parse_fim
from policies.lanes import Endpoint
from policies.policy import LanePolicy
from policies.trim import TrimResult
from router.context import RequestContext
from router.runtime import Runtime
from router.stages.feedback import FeedbackStage
from router.stages.record import RecordAfter
from router.upstreams.openai import Reply, StreamBroken, UpstreamFailure

SSE = "text/event-stream"
JSON = "application/json"


_MODEL_FIELD = frozenset({"model"})


class SharedFailure(UpstreamFailure):
    """The upstream call this request shared (as a follower) failed before its first byte."""


def plan_for(
    cache: ResponseCache, ctx: RequestContext, lane: LanePolicy, model: ModelSpec, variant: str,
) -> CachePlan:
    """Keyed on the client's (scrubbed) body, before trimming: what `model` is sent is a
    pure function of that body, the lane's trim budget (`variant`) and the model's FIM
    family and upstream name, so a hit needs no trimming. The client's `model` field is
    left out: `auto` and the name it chose get the same answer."""
    cp = cache.plan(
        tenant=ctx.tenant, model=model.name, endpoint=ctx.endpoint.value, body=ctx.body,
        lane=ctx.lane, rule=lane.cache,
        variant=f"{variant}|{model.fim}|{model.upstream_model}", leave_out=_MODEL_FIELD,
    )
    ctx.cache = "miss" if cp.cacheable else "bypass"
    return cp


def refine(
    cache: ResponseCache, ctx: RequestContext, lane: LanePolicy, cp: CachePlan,
    body: dict[str, Any], trim: TrimResult,
) -> CachePlan:
    """After trimming (L1 missed): the typeahead scope (the sampling fields as sent; the
    client's own, untrimmed FIM parts) and the trim summary stored with the answer."""
    if not cp.cacheable:
        return cp
    fim = None
    if lane.cache.typeahead and ctx.lane == "completion" and ctx.endpoint is Endpoint.COMPLETIONS:
        fim = _fim_parts(ctx.body)
    return cache.refine(
        cp, tenant=ctx.tenant, params=body, fim=fim,
        trim=(trim.tokens_before, trim.tokens_after, trim.scope),
    )


def l1_hit(rt: Runtime, ctx: RequestContext, cp: CachePlan) -> Hit | None:
    """An L1 answer, looked up before trimming. When it carries its trim summary the
    context gets it here; otherwise the caller trims to learn it."""
    hit = rt.cache.l1_hit(cp)
    if hit is not None and hit.answer.trim is not None:
        before, after, scope = hit.answer.trim
        ctx.tokens_before, ctx.input_tokens, ctx.scope = before, after, scope
        ctx.trimmed_tokens = max(0, before - after)
    return hit


async def answer_early(rt: Runtime, ctx: RequestContext, cp: CachePlan) -> Response | None:
    """A typeahead or L2 hit (L1 was asked before trimming), rendered as the client asked
    (JSON, or an SSE replay); None on a miss."""
    if not cp.cacheable:
        return None
    hit = await rt.cache.lookup(cp, l1=False)
    if hit is None:
        return None
    return respond(rt, ctx, cp, hit)


def respond(rt: Runtime, ctx: RequestContext, cp: CachePlan, hit: Hit) -> Response:
    """A hit, rendered as the client asked (JSON, or an SSE replay)."""
    ctx.cache = hit.tier
    data = FeedbackStage.stamp(ctx, hit.render(ctx.stream, cp.want_usage))  # a fresh id
    ctx.ttft_s = ctx.overhead_s = time.perf_counter() - ctx.started
    headers = ctx.answer_headers()
    if ctx.stream:
        headers["cache-control"] = "no-cache"
    return Response(
        data, media_type=SSE if ctx.stream else JSON, headers=headers,
        background=RecordAfter(rt, ctx, [data], True),
    )


async def open_shared(
    rt: Runtime, ctx: RequestContext, cp: CachePlan, opener: Callable[[], Awaitable[Reply]]
) -> Reply:
    """`opener()` (the upstream open) through single-flight, for cacheable requests."""
    if not cp.cacheable:
        return await opener()
    started = time.perf_counter()
    model = ctx.model.name if ctx.model else cp.model
    while True:
        late = rt.cache.late_hit(cp)  # no await between this and join: no gap to fall into
        if late is not None:
            ctx.cache = late.tier
            first = late.render(ctx.stream, cp.want_usage)
            return Reply(200, SSE if ctx.stream else JSON, first,
                         _nothing() if ctx.stream else None, time.perf_counter() - started, _noop)
        # The leader makes the call itself (no task: the common, lone case); a stream is
        # handed to a task of the flight's own once somebody else holds it.
        flight = rt.cache.join(cp, streaming=ctx.stream)
        ctx.cache = "miss" if flight.leader else "coalesced"
        if flight.inline:
            return await _lead(flight, opener, model)
        try:
            if not flight.same_mode:
                answer = await flight.answer()
                first = answer.sse(cp.want_usage) if ctx.stream else answer.body
                rest = _nothing() if ctx.stream else None
            elif ctx.stream:
                events = flight.events()
                try:
                    first = await anext(events)
                except StopAsyncIteration:
                    msg = f"Model '{model}' sent nothing."
                    raise UpstreamFailure(model, "stream_cut", msg) from None
                rest = _relayed(events, model)
            else:
                first = await flight.body()
                rest = None
        except FlightFailed as failed:
            if isinstance(failed.cause, LeaderLeft):
                continue  # its call went with it, before a byte reached us: join afresh
            raise _before_first_byte(flight, failed, model) from None
        ttft = time.perf_counter() - started
        return Reply(200, SSE if ctx.stream else JSON, first, rest, ttft, flight.release)


async def _lead(flight: Flight, opener: Callable[[], Awaitable[Reply]], model: str) -> Reply:
    """An inline flight's leader: the upstream reply read directly, and shared."""
    try:
        reply = await opener()
    except Exception as exc:
        flight.fail(exc)
        raise _before_first_byte(flight, FlightFailed(exc, 0), model) from None
    except BaseException:
        flight.release()  # cancelled (the client left): the followers start afresh
        raise
    if not flight.streaming:
        flight.finish(reply.first)
        reply.content_type = JSON  # as a follower's and a hit's
        return reply
    events = flight.lead(reply.first, reply.rest or _nothing(), reply.close)
    try:
        first = await anext(events)
    except StopAsyncIteration:
        raise UpstreamFailure(model, "stream_cut", f"Model '{model}' sent nothing.") from None
    except FlightFailed as failed:  # handed over before a whole event came, then failed
        raise _before_first_byte(flight, failed, model) from None
    except StreamBroken as broken:  # no whole event yet: still before the first byte
        raise _before_first_byte(flight, FlightFailed(broken, 0), model) from None
    return Reply(200, SSE, first, _relayed(events, model), reply.ttft_s, flight.release)


async def _relayed(events: AsyncIterator[bytes], model: str) -> AsyncIterator[bytes]:
    try:
        async for raw in events:
            yield raw
    except FlightFailed as failed:
        cause = failed.cause
        if isinstance(cause, StreamBroken):
            raise StreamBroken(cause.reason, cause.message) from None
        raise StreamBroken("stream_cut", f"Model '{model}' stream failed.") from None
    finally:
        await events.aclose()  # type: ignore[attr-defined]


def _noop() -> None:
    return None


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that yields nothing


def _before_first_byte(flight: Flight, failed: FlightFailed, model: str) -> UpstreamFailure:
    cause = failed.cause
    if not isinstance(cause, UpstreamFailure):
        cause = UpstreamFailure(model, "transport", f"Model '{model}' failed.")
    if flight.leader:
        return cause
    return SharedFailure(
        cause.model, cause.reason, cause.message, status=cause.status,
        retryable=cause.retryable, retry_after=cause.retry_after, body=cause.body,
    )


def _fim_parts(body: dict[str, Any]) -> FimParts | None:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        return None
    suffix = body.get("suffix")
    fim = parse_fim(prompt, suffix if isinstance(suffix, str) else None)
    if fim is None:  # a plain prompt: the cursor is at its end, nothing after it
        return FimParts(prompt, "")
    others = "\x00".join(f"{f.path}\x01{f.text}" for f in fim.context)
    context = f"{fim.family}\x00{fim.repo or ''}\x00{fim.path or ''}\x00{others}"
    return FimParts(fim.prefix, fim.suffix, context)
