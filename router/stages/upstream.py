"""Stage 5, upstream: one model called through its kind's adapter; the fallback rules.

The chain tries the candidates in order (`Chain.handle`); this stage makes each call and
decides what its outcome means: a model that failed before its first byte is counted against
it (breaker, `upstream_errors_total`) and the next candidate tries, unless the request
itself was refused (a 4xx: another model would refuse it too). When none is left,
`give_up` says why in one error. The adapter and bridge for each (client API, model) pair
are resolved once and kept.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Mapping

from policies.catalog import ModelSpec
from policies.choose import Chooser
from router.context import RequestContext
from router.errors import (
    LanewayError,
    NoHealthyModel,
    RateLimited,
    UpstreamError,
    UpstreamRejected,
    UpstreamTimeout,
)
from router.observe.metrics import Metrics
from router.stages.cache import CacheLookup, SharedFailure
from router.upstreams.kinds import BRIDGES, Bridge, UpstreamKind, kind_of
from router.upstreams.openai import Reply, Timeouts, UpstreamFailure

_Route = tuple[UpstreamKind, "Bridge | None"]


class Upstream:
    def __init__(
        self, kinds: Mapping[str, UpstreamKind], cache: CacheLookup, chooser: Chooser,
        metrics: Metrics, timeouts: dict[str | tuple[str, str], Timeouts],
    ) -> None:
        self.kinds = kinds
        self.cache = cache
        self.chooser = chooser
        self.metrics = metrics
        self.timeouts = timeouts  # per lane, and per (lane, model) where a model's is shorter
        self._routes: dict[tuple[str, str], _Route] = {}

    def route(self, api: str, model: ModelSpec) -> _Route:
        """The adapter that calls `model` for a client speaking `api`, and the bridge
        between the two APIs (None: the same API, the body goes as it is)."""
        route = self._routes.get((api, model.name))
        if route is None:
            kind_name = kind_of(model)
            kind = self.kinds[kind_name]
            bridge = None
            if api not in kind.apis:
                bridge = BRIDGES.get((api, kind_name))
                if bridge is None:
                    raise UpstreamRejected(
                        f"Model '{model.name}' cannot answer a '{api}' request.", 400)
            route = self._routes[(api, model.name)] = (kind, bridge)
        return route

    def timeouts_for(self, lane: str, model: ModelSpec) -> Timeouts:
        return self.timeouts.get((lane, model.name)) or self.timeouts[lane]

    def call(self, ctx: RequestContext) -> Awaitable[Reply]:
        """The call to `ctx.model`, to await: its reply once the answer has started, or an
        UpstreamFailure (for `failed`). Not a coroutine of its own: every await of the call
        would resume through one more frame."""
        notes = ctx.notes
        model = ctx.model
        assert notes is not None and model is not None and ctx.upstream_body is not None
        kind, bridge = self.route(ctx.frontend.api, model)
        notes.bridge = bridge
        body, endpoint = ctx.upstream_body, ctx.endpoint
        if bridge is not None:
            body, endpoint = bridge.request(body), bridge.endpoint
        opened = time.perf_counter()
        ctx.overhead_s += opened - notes.mark
        timeouts = self.timeouts_for(ctx.lane, model)
        if notes.cache is not None and notes.cache.cacheable:
            return self.cache.share(ctx, functools.partial(
                kind.open, model, endpoint, body, ctx.stream, timeouts, opened))
        return kind.open(model, endpoint, body, ctx.stream, timeouts, opened)

    def started(self, ctx: RequestContext, reply: Reply) -> Reply:
        """A model answered: count it for the model, and put the reply in the client's API."""
        notes = ctx.notes
        model = ctx.model
        assert notes is not None and model is not None
        if notes.bridge is not None:
            reply = notes.bridge.reply(reply, ctx.stream)
        # A non-streamed answer's time covers the whole generation, not the first token.
        if ctx.cache in ("miss", "bypass"):  # a shared or cached answer says little
            self.chooser.record_success(model.name, ctx.lane, reply.ttft_s if ctx.stream
                                        else None, notes.needs.session if notes.needs else None)
        ctx.ttft_s = time.perf_counter() - ctx.started
        ctx.attempts.append((model.name, "ok"))
        return reply

    def failed(self, ctx: RequestContext, f: UpstreamFailure) -> None:
        """A model failed before its first byte: count it; the next candidate may try,
        unless the request itself was refused (raised: another model would refuse it too)."""
        notes = ctx.notes
        model = ctx.model
        assert notes is not None and model is not None
        notes.mark = time.perf_counter()  # the failed attempt's wait was the upstream's
        notes.failure = f
        ctx.attempts.append((model.name, f.reason))
        shared = isinstance(f, SharedFailure)  # counted by its leader
        if not shared:
            self.metrics.upstream_errors.labels(model.name, f.reason).inc()
        if not f.retryable:
            raise self.give_up(ctx)
        if not shared:
            self.chooser.record_failure(model.name, f.reason)

    @staticmethod
    def give_up(ctx: RequestContext) -> LanewayError:
        """The error once no candidate is left: the last failure's, in the client's terms."""
        failure = ctx.notes.failure if ctx.notes is not None else None
        if failure is None:
            return NoHealthyModel(
                f"Every model for the '{ctx.lane}' lane is unavailable right now.")
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
