"""The shared half of the rate limiter: GCRA counters in Redis, one Lua script per decision.

Every admission is one run of `_ADMIT` (by SHA, through cache/redis_layer.py), atomic:
check and count in one step, on Redis's clock, so replicas agree without clock sync.
Admissions waiting at the same moment are sent together in one non-transactional pipeline:
a burst of N requests costs one round trip and opens no new connections (a cold pool
opening N connections at once is what made a 50 ms bound fail under load). Each script
still runs atomically.

Redis is never trusted to be there: a caller waits at most `timeout_s` for its answer, and
any fault marks Redis down for `RETRY_S`, during which callers get None at once (the
limiter then uses per-process buckets).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from cache.redis_layer import RedisLayer, Script

log = logging.getLogger("laneway.limits")

RETRY_S = 1.0  # how long a fault sends the limiter to per-process buckets

# KEYS: requests timestamp, tokens timestamp. ARGV: ms per request (0: no request limit).
# Returns {1, 0} when admitted, {0, ms to wait} when not. Timestamps are "theoretical
# arrival times" in ms; a counter more than a window (60 s) ahead of now is over its limit.
_ADMIT = Script("""
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
""")

# KEYS: tokens timestamp. ARGV: ms of the minute's budget the tokens used.
_CHARGE = Script("""
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local tok = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local nxt = tok + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
return 1
""")

# (script, keys, args, the admitting caller's future, or a charge's fallback)
_Op = tuple[Script, list[str], list[Any], "asyncio.Future[Any] | None", "Callable[[], None] | None"]


def keys(tenant: str) -> list[str]:
    # The hash tag keeps both counters of a tenant in one cluster slot (one script, one node).
    return [f"laneway:rl:{{{tenant}}}:req", f"laneway:rl:{{{tenant}}}:tok"]


class SharedBuckets:
    def __init__(
        self, url: str, timeout_s: float, cluster: bool = False, layer: RedisLayer | None = None
    ) -> None:
        self.url, self.cluster = url, cluster
        self.timeout_s = timeout_s
        # The flusher's bound; no request waits on it past `timeout_s`.
        self._backstop = max(timeout_s * 4, 0.2)
        # A layer given is shared (the runtime's, with the cache) and closed by its owner.
        self._owns_layer = layer is None
        self._redis = layer or RedisLayer(
            url, cluster=cluster, timeout_s=timeout_s, connect_timeout_s=self._backstop,
            max_connections=4,
        )
        self._queue: list[_Op] = []
        self._flusher: asyncio.Task[None] | None = None
        self._down_until = 0.0
        with contextlib.suppress(RuntimeError):  # no running loop: connect on first use
            self._flusher = asyncio.get_running_loop().create_task(self._warm())

    @property
    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    async def admit(self, tenant: str, interval_ms: float) -> float | None:
        """Seconds to wait (0: admitted and counted), or None when Redis could not answer."""
        if not self.up:
            return None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit((_ADMIT, keys(tenant), [interval_ms], fut, None))
        try:
            async with asyncio.timeout(self.timeout_s):
                ok, wait_ms = await fut
        except Exception as exc:  # any fault: the caller uses per-process limits, never a 5xx
            self._fault(exc)
            return None
        if self._down_until:
            log.warning("limits: Redis is back; shared limits again")
            self._down_until = 0.0
        return 0.0 if ok else int(wait_ms) / 1000

    def charge(self, tenant: str, budget_ms: float, fallback: Callable[[], None]) -> None:
        """Count used tokens; never waits. `fallback` runs instead if Redis cannot take it."""
        if not self.up:
            fallback()
            return
        self._submit((_CHARGE, keys(tenant)[1:], [budget_ms], None, fallback))

    async def close(self) -> None:
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._flusher), 1.0)
        if self._owns_layer:
            await self._redis.close()

    def _submit(self, op: _Op) -> None:
        self._queue.append(op)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _warm(self) -> None:
        # One connection made at start, so the first burst does not pay for connecting.
        with contextlib.suppress(Exception):
            await self._redis.open(1.0)
        await self._flush()

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            # Callers that gave up are not sent: their request was decided without Redis.
            batch = [op for op in batch if op[3] is None or not op[3].done()]
            if not batch:
                continue
            results: list[Any]
            if not self.up:
                results = [ConnectionError("Redis marked down")] * len(batch)
            else:
                try:
                    if not self._redis.ready:
                        await self._redis.open()
                    results = await self._redis.run_many(
                        [(script, ks, args) for script, ks, args, _, _ in batch], self._backstop
                    )
                except Exception as exc:
                    self._fault(exc)
                    results = [exc] * len(batch)
            for (_, _, _, fut, fallback), result in zip(batch, results, strict=True):
                failed = isinstance(result, Exception)
                if fut is not None and not fut.done():
                    if failed:
                        fut.set_exception(result)
                    else:
                        fut.set_result(result)
                elif fallback is not None and failed:
                    fallback()

    def _fault(self, exc: BaseException) -> None:
        if self._down_until == 0.0:
            log.warning("limits: Redis unavailable (%s); per-process limits for now",
                        type(exc).__name__)
        self._down_until = time.monotonic() + RETRY_S

