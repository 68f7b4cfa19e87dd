"""The shared half of the spend ledger: one hash and one sorted set per team and period.

A bucket `laneway:spend:{team}:<period>` holds `spent`, `saved`, `requests` and `held` (the
worst-case cost of requests in flight); `...:holds` names each hold with its expiry, so a
replica that dies mid-request cannot keep its holds forever. Both scripts run by SHA (loaded
once per connection's server, again after a Redis restart) and are atomic: a reservation
checks and holds in one step, which is what bounds the overshoot to what is in flight.

Calls waiting at the same moment go out together in one pipeline (a burst is one round trip).
A reservation waits at most `timeout_s`; any fault marks Redis down for `RETRY_S`, during
which the ledger decides without it (`budget_fail`). A settlement never waits: when Redis
cannot take it, it is kept and sent with the next batch that gets through (a settlement
that releases a hold is idempotent; one without a hold is resent only when it surely never
reached Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("laneway.spend")

RETRY_S = 1.0
HOLD_MS = 30 * 60 * 1000  # longer than any request may run (a lane's total_s is at most 15 min)
KEEP_S = 40 * 86400  # a bucket outlives its period, for late settlements and reports

# KEYS: bucket, holds. ARGV: budget, amount, hold member, hold ms, expire-at.
# Returns {1 admitted | 0 refused, spent}. Floats go back as strings (Lua numbers would
# come back as truncated integers).
RESERVE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #stale > 0 then
  local gone = 0
  for _, m in ipairs(stale) do gone = gone + tonumber(string.match(m, ':([^:]*)$')) end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('HINCRBYFLOAT', KEYS[1], 'held', -gone)
end
local v = redis.call('HMGET', KEYS[1], 'spent', 'held')
local spent = tonumber(v[1] or '0')
local held = math.max(tonumber(v[2] or '0'), 0)
if spent + held >= tonumber(ARGV[1]) then return {0, tostring(spent)} end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[1], 'held', ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[5])
redis.call('EXPIREAT', KEYS[2], ARGV[5])
return {1, tostring(spent)}
"""

# KEYS: bucket, holds. ARGV: hold member ('' for none), its amount, cost, saved, requests,
# expire-at. Returns the bucket's spend after this one. A settlement with a hold counts
# only if it removes its hold: sent again after a timeout that hid its success, it is a no-op.
SETTLE = """
if ARGV[1] ~= '' then
  if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
    return redis.call('HGET', KEYS[1], 'spent') or '0'
  end
  local held = redis.call('HINCRBYFLOAT', KEYS[1], 'held', -tonumber(ARGV[2]))
  if tonumber(held) < 1e-9 then redis.call('HSET', KEYS[1], 'held', 0) end
end
local spent = redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[1], 'saved', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'requests', ARGV[5])
redis.call('EXPIREAT', KEYS[1], ARGV[6])
return spent
"""

_SHA = {s: hashlib.sha1(s.encode()).hexdigest() for s in (RESERVE, SETTLE)}


@dataclass(slots=True)
class Op:
    script: str
    keys: list[str]
    args: list[Any]
    future: asyncio.Future[Any] | None = None  # a reservation's caller waits on it
    team: str = ""


def bucket_keys(team: str, bucket: str) -> list[str]:
    # The hash tag keeps a team's keys in one cluster slot (one script, one node).
    base = f"laneway:spend:{{{team}}}:{bucket}"
    return [base, base + ":holds"]


class SharedBook:
    def __init__(self, url: str, timeout_s: float) -> None:
        from router.limits.ratelimit_redis import _client

        self.url = url
        self.timeout_s = timeout_s
        self._client = _client(url, timeout_s)
        self._queue: list[Op] = []
        self._unsent: list[Op] = []  # settlements Redis could not take yet
        self._flusher: asyncio.Task[None] | None = None
        self._down_until = 0.0
        self.hold_ms = HOLD_MS  # how long a hold lasts if its request is never settled
        self.on_spent: Any = None  # (team, spent in its bucket) after each settlement

    @property
    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    async def reserve(self, team: str, bucket: str, budget: float, amount: float,
                      member: str, expire_at: int) -> tuple[bool, float] | None:
        """(admitted, spent before this request), or None when Redis could not answer."""
        if not self.up:
            return None
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._submit(Op(RESERVE, bucket_keys(team, bucket),
                        [repr(budget), repr(amount), member, self.hold_ms, expire_at], fut))
        try:
            async with asyncio.timeout(self.timeout_s):
                ok, spent = await fut
        except Exception as exc:
            self._fault(exc)
            return None
        if self._down_until:
            log.warning("spend: Redis is back; budgets are shared again")
            self._down_until = 0.0
        return bool(ok), float(spent)

    def settle(self, team: str, bucket: str, member: str, amount: float, cost: float,
               saved: float, requests: int, expire_at: int) -> None:
        self._submit(Op(SETTLE, bucket_keys(team, bucket),
                        [member, repr(amount), repr(cost), repr(saved), requests, expire_at],
                        team=team))

    async def totals(self, buckets: list[tuple[str, str]]) -> list[dict[str, float]]:
        """Each (team, bucket)'s spent, held, requests and saved; raises if Redis fails."""
        pipe = self._client.pipeline(transaction=False)
        for team, bucket in buckets:
            pipe.hmget(bucket_keys(team, bucket)[0], "spent", "held", "requests", "saved")
        async with asyncio.timeout(max(self.timeout_s, 1.0)):
            rows = await pipe.execute()
        names = ("spent", "held", "requests", "saved")
        return [{n: float(v or 0) for n, v in zip(names, row, strict=True)} for row in rows]

    async def close(self) -> None:
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._flusher), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.aclose(), 1.0)

    def _submit(self, op: Op) -> None:
        self._queue.append(op)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            batch = [op for op in batch if op.future is None or not op.future.done()]
            if self.up and self._unsent:
                batch, self._unsent = self._unsent + batch, []
            if not batch:
                continue
            results = await self._send(batch) if self.up else None
            if results is None:
                results = [ConnectionError("Redis marked down")] * len(batch)
            for op, result in zip(batch, results, strict=True):
                failed = isinstance(result, Exception)
                if op.future is not None:
                    if not op.future.done():
                        op.future.set_exception(result) if failed else op.future.set_result(result)
                elif failed and (op.args[0] or _never_sent(result)):
                    self._unsent.append(op)  # nothing spent is lost to a Redis hiccup
                elif failed:
                    # It may have counted before the answer was lost (a timeout), and it has
                    # no hold to make a second try harmless: counted at most once.
                    log.warning("spend: a settlement of team %s may be lost (%s)", op.team,
                                type(result).__name__)
                elif self.on_spent is not None:
                    self.on_spent(op.team, float(result))

    async def _send(self, batch: list[Op]) -> list[Any] | None:
        results = await self._run(batch)
        if results is None:
            return None
        from redis.exceptions import NoScriptError

        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # A fresh (or restarted) Redis: load the scripts and send again only what found
            # none (a script that found no SHA did not run, so nothing counts twice).
            try:
                for script in _SHA:
                    await self._client.script_load(script)
            except Exception as exc:
                self._fault(exc)
                return None
            again = await self._run([batch[i] for i in missing])
            if again is None:
                return None
            for i, r in zip(missing, again, strict=True):
                results[i] = r
        return results

    async def _run(self, batch: list[Op]) -> list[Any] | None:
        pipe = self._client.pipeline(transaction=False)
        for op in batch:
            pipe.evalsha(_SHA[op.script], len(op.keys), *op.keys, *op.args)
        try:
            results: list[Any] = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            self._fault(exc)
            return None
        return results

    def _fault(self, exc: BaseException) -> None:
        if self._down_until == 0.0:
            log.warning("spend: Redis unavailable (%s); budget_fail applies for now",
                        type(exc).__name__)
        self._down_until = time.monotonic() + RETRY_S


def _never_sent(exc: BaseException) -> bool:
    """A fault that shows the command never reached Redis (down, refused), unlike a
    timeout after sending it."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    return isinstance(exc, ConnectionError | RedisConnectionError)
