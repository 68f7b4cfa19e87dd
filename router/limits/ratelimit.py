"""Rate limits per tenant (API key): requests and tokens per minute, shared through Redis.

Algorithm: GCRA (a token bucket kept as one timestamp per counter, the "theoretical arrival
time"). Requests: each admitted request moves the timestamp 60/rpm s ahead; a request is
refused while the timestamp would run more than a minute ahead of now, so a burst admits
exactly `requests_per_minute` and then one per 60/rpm s. Tokens: the answer's tokens are
unknown at admission, so they are charged afterwards (`charge`) and a request is refused
while the tenant's charged tokens run a whole minute ahead (it is in token debt).

Across replicas both checks run in one Lua script with Redis's clock (ratelimit_redis):
atomic, one round trip, no clock skew. Redis is never trusted to be there: each call is
bounded (`redis.timeout_ms`, 50 ms by default) and, on a fault, the limiter uses
per-process buckets for a second before trying Redis again. Per-process limits are per
worker: with Redis down, N workers (or replicas) admit up to N times the limit.
Without `server.api_keys` every caller is one tenant ("anonymous"): the limit is global.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from cache.redis_layer import RedisLayer
from router.config import Config
from router.errors import RateLimited
from router.limits.ratelimit_redis import SharedBuckets

WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Limit:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def __bool__(self) -> bool:
        return bool(self.requests_per_minute or self.tokens_per_minute)


class LocalBuckets:
    """The same GCRA per process, on the monotonic clock: the fallback when Redis is away."""

    def __init__(self) -> None:
        self._req: dict[str, float] = {}
        self._tok: dict[str, float] = {}

    def admit(self, tenant: str, limit: Limit, now: float) -> float:
        """0 when admitted, else seconds to wait."""
        tok = self._tok.get(tenant, 0.0)
        if tok - now >= WINDOW_S:
            return tok - now - WINDOW_S
        if limit.requests_per_minute:
            nxt = max(self._req.get(tenant, 0.0), now) + WINDOW_S / limit.requests_per_minute
            if nxt - now > WINDOW_S:
                return nxt - now - WINDOW_S
            self._req[tenant] = nxt
        return 0.0

    def charge(self, tenant: str, seconds: float, now: float) -> None:
        self._tok[tenant] = max(self._tok.get(tenant, 0.0), now) + seconds


class Limiter:
    def __init__(
        self,
        default: Limit,
        per_tenant: dict[str, Limit],
        redis_url: str | None = None,
        timeout_s: float = 0.05,
        previous: Limiter | None = None,
        cluster: bool = False,
        layer: RedisLayer | None = None,
    ) -> None:
        self.default = default
        self.per_tenant = per_tenant
        self.active = bool(default) or any(per_tenant.values())
        # A reload keeps the buckets and (same URL) the Redis connection.
        self.local: LocalBuckets = previous.local if previous is not None else LocalBuckets()
        kept = previous.shared if previous is not None else None
        self.shared: SharedBuckets | None = None
        if kept is not None and kept.url == redis_url and kept.cluster == cluster:
            self.shared = kept
        elif self.active and redis_url:
            self.shared = SharedBuckets(redis_url, timeout_s, cluster, layer)

    def limit_for(self, tenant: str) -> Limit:
        return self.per_tenant.get(tenant, self.default)

    async def admit(self, tenant: str) -> None:
        """Raise RateLimited (429, retry-after) when the tenant is over a limit."""
        if not self.active:
            return
        limit = self.limit_for(tenant)
        if not limit:
            return
        wait = None
        if self.shared is not None:
            rpm = limit.requests_per_minute
            wait = await self.shared.admit(tenant, WINDOW_S * 1000 / rpm if rpm else 0)
        if wait is None:
            wait = self.local.admit(tenant, limit, time.monotonic())
        if wait > 0:
            raise RateLimited(
                f"Rate limit reached for this API key. Retry in {math.ceil(wait)} s.",
                headers={"retry-after": str(max(1, math.ceil(wait)))},
            )

    def charge(self, tenant: str, tokens: int) -> None:
        """Count an answer's tokens against the tenant's budget; never waits."""
        if not self.active or tokens <= 0:
            return
        tpm = self.limit_for(tenant).tokens_per_minute
        if not tpm:
            return
        seconds = tokens * WINDOW_S / tpm

        def locally() -> None:
            self.local.charge(tenant, seconds, time.monotonic())

        if self.shared is None:
            locally()
        else:
            self.shared.charge(tenant, seconds * 1000, locally)

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()


def build_limiter(
    config: Config, previous: Limiter | None = None, layer: RedisLayer | None = None
) -> Limiter:
    """From `server.limits` and teams' `rpm`/`tpm`; a key's or team's setting fills in
    what it leaves out from the default."""
    raw = config.raw.server.limits
    default = Limit(raw.requests_per_minute, raw.tokens_per_minute)
    per_tenant = {}
    for tenant in config.tenants:
        team = config.teams.get(tenant.team) if tenant.team else None
        if team is not None and (team.rpm or team.tpm):
            # A team's keys share one tenant, hence one bucket, on every replica.
            per_tenant[tenant.id] = Limit(team.rpm or default.requests_per_minute,
                                          team.tpm or default.tokens_per_minute)
            continue
        o = raw.keys.get(tenant.entry)
        if o is not None:
            per_tenant[tenant.id] = Limit(
                o.requests_per_minute or default.requests_per_minute,
                o.tokens_per_minute or default.tokens_per_minute,
            )
    return Limiter(default, per_tenant, config.raw.redis.url,
                   config.raw.redis.timeout_ms / 1000, previous, config.raw.redis.cluster,
                   layer)
