"""Stage 3, cache look-up: where the chain meets `cache/` (single-flight, L1, L2, typeahead).

Per candidate model: `look_up` keys the request as it would be sent to that model and asks
L1, before anything is trimmed; after trimming, `look_up_shared` asks typeahead and L2. On a
miss the upstream stage opens the model through `share`: identical requests in flight share
one call (single-flight) and each gets a `Reply` fed from it, so the rest of the chain
(render, fallback, record) is the same for a leader, a follower and a request that bypasses.

Failures keep the chain's meaning: before the first byte they are `UpstreamFailure`s
(a follower's is a `SharedFailure`: the chain falls back to the next model but does not
count it against the model again), after it `StreamBroken`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from cache.response_cache import FimParts, Hit, ResponseCache
from cache.singleflight import Flight, FlightFailed, LeaderLeft
from policies.catalog import ModelSpec
from policies.fim import parse as parse_fim
from policies.lanes import Endpoint
from router.context import RequestContext
from router.upstreams.openai import Reply, StreamBroken, UpstreamFailure

SSE = "text/event-stream"
JSON = "application/json"


_MODEL_FIELD = frozenset({"model"})


class SharedFailure(UpstreamFailure):
    """The upstream call this request shared (as a follower) failed before its first byte."""


class CacheLookup:
    def __init__(self, cache: ResponseCache, variants: dict[str, str]) -> None:
        self.cache = cache
        self.variants = variants  # per lane: what besides the body decides a trimmed body

    def look_up(self, ctx: RequestContext, model: ModelSpec) -> Hit | None:
        """L1, keyed on the client's (scrubbed) body, before trimming: what `model` is sent
        is a pure function of that body, the lane's trim budget (the variant) and the
        model's FIM family and upstream name, so a hit needs no trimming. The client's
        `model` field is left out: `auto` and the name it chose get the same answer."""
        notes = ctx.notes
        assert notes is not None
        cp = notes.cache = self.cache.plan(
            tenant=ctx.tenant, model=model.name, endpoint=ctx.endpoint.value, body=ctx.body,
            lane=ctx.lane, rule=notes.lane.cache,
            # A request shaped by an experiment arm or its user's tuning trims differently.
            variant=f"{notes.variant or self.variants[ctx.lane]}|{model.fim}"
                    f"|{model.upstream_model}",
            leave_out=_MODEL_FIELD,
        )
        if not cp.cacheable:
            ctx.cache = "bypass"
            return None
        ctx.cache = "miss"
        hit = self.cache.l1_hit(cp)
        if hit is not None and hit.answer.trim is not None:
            before, after, scope = hit.answer.trim
            ctx.tokens_before, ctx.input_tokens, ctx.scope = before, after, scope
            ctx.trimmed_tokens = max(0, before - after)
        return hit

    async def look_up_shared(self, ctx: RequestContext) -> Hit | None:
        """After trimming (L1 missed): typeahead and L2. The typeahead scope is the sampling
        fields as sent and the client's own, untrimmed FIM parts; the trim summary is
        stored with the answer."""
        notes = ctx.notes
        assert notes is not None and notes.cache is not None
        cp = notes.cache
        if not cp.cacheable:
            return None
        fim = None
        if (notes.lane.cache.typeahead and ctx.lane == "completion"
                and ctx.endpoint is Endpoint.COMPLETIONS):
            fim = _fim_parts(ctx.body)
        assert ctx.upstream_body is not None
        cp = notes.cache = self.cache.refine(
            cp, tenant=ctx.tenant, params=ctx.upstream_body, fim=fim,
            trim=(ctx.tokens_before, ctx.input_tokens, ctx.scope),
        )
        return await self.cache.lookup(cp, l1=False)

    async def share(self, ctx: RequestContext, opener: Callable[[], Awaitable[Reply]]) -> Reply:
        """`opener()` (the upstream open) through single-flight; for cacheable requests."""
        cp = ctx.notes.cache  # type: ignore[union-attr]
        assert cp is not None
        cache = self.cache
        started = time.perf_counter()
        model = ctx.model.name if ctx.model else cp.model
        while True:
            late = cache.late_hit(cp)  # no await between this and join: no gap to fall into
            if late is not None:
                ctx.cache = late.tier
                first = late.render(ctx.stream, cp.want_usage)
                return Reply(200, SSE if ctx.stream else JSON, first,
                             _nothing() if ctx.stream else None,
                             time.perf_counter() - started, _noop)
            # The leader makes the call itself (no task: the common, lone case); a stream is
            # handed to a task of the flight's own once somebody else holds it.
            flight = cache.join(cp, streaming=ctx.stream)
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
        retryable=cause.retryable, retry_after=cause.retry_after,
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
