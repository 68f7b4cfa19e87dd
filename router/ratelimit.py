"""Rate limits per tenant (API key): requests and tokens per minute, shared through Redis.

Algorithm: GCRA (a token bucket kept as one timestamp per counter, the "theoretical arrival
time"). Requests: each admitted request moves the timestamp 60/rpm s ahead; a request is
refused while the timestamp would run more than a minute ahead of now, so a burst admits
exactly `requests_per_minute` and then one per 60/rpm s. Tokens: the answer's tokens are
unknown at admission, so they are charged afterwards (`charge`) and a request is refused
while the tenant's charged tokens run a whole minute ahead (it is in token debt).

Across replicas both checks run in one Lua script with Redis's clock: atomic, one round
trip, no clock skew between replicas. Redis is never trusted to be there: each call is
bounded (`redis.timeout_ms`, 50 ms by default) and, on a fault, the limiter uses
per-process buckets for `RETRY_S` before trying Redis again. Per-process limits are per
worker: with Redis down, N workers (or replicas) admit up to N times the limit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from router.config import Config
from router.errors import RateLimited

log = logging.getLogger("laneway.limits")

WINDOW_S = 60.0
RETRY_S = 1.0  # how long a Redis fault sends the limiter to per-process buckets

# KEYS: requests timestamp, tokens timestamp. ARGV: ms per request (0: no request limit).
# Returns {1, 0} when admitted, {0, ms to wait} when not.
_ADMIT = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local window = 60000
local tok = tonumber(redis.call('GET', KEYS[2]) or '0')
if tok - now >= window then return {0, math.ceil(tok - now - window) + 1} end
local interval = tonumber(ARGV[1])
if interval > 0 then
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
  local nxt = tat + interval
  if nxt - now > window then return {0, math.ceil(nxt - now - window)} end
  redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
end
return {1, 0}
"""

# KEYS: tokens timestamp. ARGV: ms of budget the tokens used.
_CHARGE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local tok = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local nxt = tok + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
return 1
"""


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
    ) -> None:
        self.default = default
        self.per_tenant = per_tenant
        self.active = bool(default) or any(per_tenant.values())
        self.timeout_s = timeout_s
        self.redis_url: str | None = redis_url
        # A reload keeps the buckets and (same URL) the Redis connection pool.
        self.local: LocalBuckets = previous.local if previous is not None else LocalBuckets()
        self._client: Any = None
        if previous is not None and previous.redis_url == redis_url:
            self._client = previous._client
        self._down_until = 0.0
        self._pending: set[asyncio.Task[None]] = set()
        if self.active and redis_url and self._client is None:
            self._client = _client(redis_url, timeout_s)
        self._admit: Any = self._client.register_script(_ADMIT) if self._client else None
        self._charge: Any = self._client.register_script(_CHARGE) if self._client else None

    def limit_for(self, tenant: str) -> Limit:
        return self.per_tenant.get(tenant, self.default)

    async def admit(self, tenant: str) -> None:
        """Raise RateLimited (429, retry-after) when the tenant is over a limit."""
        if not self.active:
            return
        limit = self.limit_for(tenant)
        if not limit:
            return
        wait = await self._admit_shared(tenant, limit)
        if wait is None:
            wait = self.local.admit(tenant, limit, time.monotonic())
        if wait > 0:
            kind = "requests" if limit.requests_per_minute else "tokens"
            raise RateLimited(
                f"Rate limit reached for this API key ({kind} per minute). "
                f"Retry in {math.ceil(wait)} s.",
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
        if self._charge is None or time.monotonic() < self._down_until:
            self.local.charge(tenant, seconds, time.monotonic())
            return
        task = asyncio.get_running_loop().create_task(self._charge_shared(tenant, seconds))
        self._pending.add(task)  # a reference until it is done: the loop only keeps weak ones
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=1.0)
        if self._client is not None:
            await self._client.aclose()

    # -- Redis -------------------------------------------------------------------------------

    async def _admit_shared(self, tenant: str, limit: Limit) -> float | None:
        """Seconds to wait (0: admitted), or None when Redis could not answer."""
        if self._admit is None or time.monotonic() < self._down_until:
            return None
        rpm = limit.requests_per_minute
        interval_ms = WINDOW_S * 1000 / rpm if rpm else 0
        try:
            async with asyncio.timeout(self.timeout_s):
                ok, wait_ms = await self._admit(keys=_keys(tenant), args=[interval_ms])
        except Exception as exc:  # any fault: fail over to per-process limits, never to 5xx
            self._fault(exc)
            return None
        self._recovered()
        return 0.0 if ok else int(wait_ms) / 1000

    async def _charge_shared(self, tenant: str, seconds: float) -> None:
        try:
            async with asyncio.timeout(self.timeout_s * 4):
                await self._charge(keys=_keys(tenant)[1:], args=[seconds * 1000])
        except Exception as exc:
            self._fault(exc)
            self.local.charge(tenant, seconds, time.monotonic())

    def _fault(self, exc: BaseException) -> None:
        if self._down_until == 0.0:
            log.warning("limits: Redis unavailable (%s); per-process limits for now",
                        type(exc).__name__)
        self._down_until = time.monotonic() + RETRY_S

    def _recovered(self) -> None:
        if self._down_until:
            log.warning("limits: Redis is back; shared limits again")
            self._down_until = 0.0


def _keys(tenant: str) -> list[str]:
    # The hash tag keeps both counters of a tenant in one cluster slot (one script, one node).
    return [f"laneway:rl:{{{tenant}}}:req", f"laneway:rl:{{{tenant}}}:tok"]


def _client(url: str, timeout_s: float) -> Any:
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from cache.redis_store import split_cluster_url

    # redis-py's own retries are off: laneway's bound is `timeout_s`, then it fails over.
    backstop = max(timeout_s * 4, 0.2)
    options: dict[str, Any] = {
        "socket_timeout": backstop, "socket_connect_timeout": backstop,
        "retry": Retry(NoBackoff(), 0),
    }
    plain, cluster = split_cluster_url(url)
    if cluster:
        return RedisCluster.from_url(plain, max_connections=64, **options)
    pool = BlockingConnectionPool.from_url(plain, max_connections=64, timeout=backstop, **options)
    return Redis(connection_pool=pool)


def build_limiter(config: Config, previous: Limiter | None = None) -> Limiter:
    """From `server.limits`; a key's override fills in what it leaves out from the default."""
    raw = config.raw.server.limits
    default = Limit(raw.requests_per_minute, raw.tokens_per_minute)
    per_tenant = {}
    for tenant in config.tenants:
        o = raw.keys.get(tenant.entry)
        if o is not None:
            per_tenant[tenant.id] = Limit(
                o.requests_per_minute or default.requests_per_minute,
                o.tokens_per_minute or default.tokens_per_minute,
            )
    return Limiter(default, per_tenant, config.raw.redis.url,
                   config.raw.redis.timeout_ms / 1000, previous)
