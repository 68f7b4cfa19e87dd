"""The spend ledger's two Lua scripts and the commands that run them (by SHA).

A bucket `laneway:spend:{team}:<period>` is a hash of `spent`, `saved`, `requests` and
`held` (the worst-case cost of requests in flight); `...:holds` is a sorted set naming each
hold with its expiry, so a replica that dies mid-request cannot keep its holds forever.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from cache.resp import command

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

SHA = {s: hashlib.sha1(s.encode()).hexdigest() for s in (RESERVE, SETTLE)}
SHA_BYTES = {s: sha.encode() for s, sha in SHA.items()}


@dataclass(slots=True)
class Op:
    script: str
    keys: list[str]
    args: list[Any]
    future: asyncio.Future[Any] | None = None  # a reservation's caller waits on it
    team: str = ""
    sent: bool = False  # it may have reached Redis (then only its hold makes a resend safe)

    def wire(self) -> bytes:
        return command(b"EVALSHA", SHA_BYTES[self.script], b"%d" % len(self.keys),
                       *(k.encode() for k in self.keys), *(str(a).encode() for a in self.args))


def bucket_keys(team: str, bucket: str) -> list[str]:
    # The hash tag keeps a team's keys in one cluster slot (one script, one node).
    base = f"laneway:spend:{{{team}}}:{bucket}"
    return [base, base + ":holds"]
