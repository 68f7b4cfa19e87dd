"""The feedback store in Redis: every replica registers answers and counts events in one
place, so counts are exact across replicas and survive restarts.

Keys share one hash tag, `{lw:fb}`, so one Lua script can check and count an event
atomically (and a cluster keeps them on one slot):
- `{lw:fb}:a:<id>`: the answer (tenant, lane, model, arm, experiment, cost) and the kinds
  already counted for it; expires after `ttl_s`;
- `{lw:fb}:totals`: `lane|model|arm|kind` -> count (kind: shown, accepted:<source>, dismissed);
- `{lw:fb}:x:<experiment>`: `arm|shown`, `arm|accepted`, `arm|cost` (cost in nano-USD,
  integers so replicas add exactly); `{lw:fb}:u:<experiment>|<arm>`: the arm's units (a set);
- `{lw:fb}:w:<experiment>`: the winner, set once (SET NX).
The script checks the tenant and sets the kind's flag with HSETNX before counting: an
event for an unknown id, another tenant's answer, or one already counted changes nothing.
"""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis

from cache.feedback import ACCEPTED, KINDS, SHOWN, Answer, ArmTotals, Counted, Counts

_P = "{lw:fb}"
_EVENT = """
local a = redis.call('HMGET', KEYS[1], 't', 'l', 'm', 'r', 'x', 'c')
if not a[1] or a[1] ~= ARGV[1] then return nil end
local kind, source = ARGV[2], ARGV[3]
local kinds = {}
if kind ~= 'shown' then kinds = {'shown', kind} else kinds = {'shown'} end
local added = {}
for _, k in ipairs(kinds) do
  if redis.call('HSETNX', KEYS[1], 'k:' .. k, 1) == 1 then table.insert(added, k) end
end
if added[#added] ~= kind then return {} end
local head = a[2] .. '|' .. a[3] .. '|' .. a[4] .. '|'
for _, k in ipairs(added) do
  local field = k
  if k == 'accepted' then field = 'accepted:' .. source end
  redis.call('HINCRBY', KEYS[2], head .. field, 1)
  if a[5] ~= '' and k ~= 'dismissed' then
    local x = ARGV[4] .. a[5]
    redis.call('HINCRBY', x, a[4] .. '|' .. k, 1)
    if k == 'shown' then redis.call('HINCRBY', x, a[4] .. '|cost', tonumber(a[6])) end
  end
end
return added
"""


class RedisFeedback:
    def __init__(
        self, url: str, ttl_s: int = 3600, timeout_s: float = 1.0, max_connections: int = 16
    ) -> None:
        self._ttl = ttl_s
        # Bounded and blocking: a burst of events waits for a connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout_s,
            socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True,
        )
        self._redis: Redis = Redis.from_pool(pool)
        self._event = self._redis.register_script(_EVENT)

    async def register(self, completion_id: str, answer: Answer) -> None:
        key = f"{_P}:a:{completion_id}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(key, mapping={
            "t": answer.tenant, "l": answer.lane, "m": answer.model, "r": answer.arm,
            "x": answer.experiment, "c": round(answer.cost_usd * 1e9),
        })
        pipe.expire(key, self._ttl)
        if answer.experiment:
            pipe.sadd(f"{_P}:u:{answer.experiment}|{answer.arm}", answer.unit)
        await pipe.execute()

    async def event(
        self, completion_id: str, tenant: str, kind: str, source: str = "event"
    ) -> Counted | None:
        if kind not in KINDS:
            return None
        key = f"{_P}:a:{completion_id}"
        added = await self._event(
            keys=[key, f"{_P}:totals"], args=[tenant, kind, source, f"{_P}:x:"]
        )
        if not added:
            return None
        raw = await self._redis.hmget(key, "l", "m", "r", "x")
        lane, model, arm, exp = (_s(v) for v in raw)
        return Counted(Answer(tenant, lane, model, arm or "none", exp), tuple(_s(k) for k in added))

    async def totals(self) -> dict[tuple[str, str, str], Counts]:
        out: dict[tuple[str, str, str], Counts] = {}
        for field, value in (await self._redis.hgetall(f"{_P}:totals")).items():
            lane, model, arm, kind = _s(field).split("|")
            c = out.setdefault((lane, model, arm), Counts())
            n = int(value)
            if kind == SHOWN:
                c.shown += n
            elif kind.startswith(ACCEPTED):
                c.accepted += n
                source = kind.partition(":")[2]
                c.by_source[source] = c.by_source.get(source, 0) + n
            else:
                c.dismissed += n
        return out

    async def arms(self, experiment: str) -> dict[str, ArmTotals]:
        out: dict[str, ArmTotals] = {}
        for field, value in (await self._redis.hgetall(f"{_P}:x:{experiment}")).items():
            arm, _, what = _s(field).rpartition("|")
            t = out.setdefault(arm, ArmTotals())
            if what == "shown":
                t.shown = int(value)
            elif what == "accepted":
                t.accepted = int(value)
            elif what == "cost":
                t.cost_usd = int(value) / 1e9
        pipe = self._redis.pipeline(transaction=False)
        for arm in out:
            pipe.scard(f"{_P}:u:{experiment}|{arm}")
        for arm, units in zip(out, await pipe.execute(), strict=True):
            out[arm].units = int(units)
        return out

    async def decide(self, experiment: str, winner: str) -> str:
        key = f"{_P}:w:{experiment}"
        await self._redis.set(key, winner, nx=True)
        stored = await self._redis.get(key)
        return _s(stored) or winner

    async def winner(self, experiment: str) -> str | None:
        return _s(await self._redis.get(f"{_P}:w:{experiment}")) or None

    async def close(self) -> None:
        await self._redis.aclose()


def _s(value: object) -> str:
    """A reply as text (the pool decodes; None, a missing field, is "")."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
