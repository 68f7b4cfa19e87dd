"""The feedback store in Redis: every replica registers answers and counts events in one
place, so counts are exact across replicas and survive restarts.

Keys share one hash tag, `{lw:fb}`, so one Lua script can check and count events
atomically (and a cluster would keep them on one slot). The drainer sends a whole batch
of registrations and events as one script call: one round trip and one command to encode
however busy the replica is.
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

from collections.abc import Sequence

from redis.asyncio import BlockingConnectionPool, Redis

from cache.feedback import ACCEPTED, KINDS, SHOWN, Answer, ArmTotals, Counted, Counts, Op
from cache.redis_layer import RedisLayer, Script

_P = "{lw:fb}"
# One call for a whole batch of operations (registrations with their `shown`, and events):
# ARGV = prefix, ttl, then per operation either
#   'r', id, tenant, lane, model, arm, experiment, unit, cost   (register, count shown;
#                                                                 'R': register only)
#   'e', id, tenant, kind, source                                (an event)
# Returns per operation {} (nothing counted) or {lane, model, arm, experiment, kinds...}.
_BATCH = """
local P, ttl = ARGV[1], tonumber(ARGV[2])
local totals = P .. ':totals'
local function count(akey, tenant, kind, source)
  local a = redis.call('HMGET', akey, 't', 'l', 'm', 'r', 'x', 'c')
  if not a[1] or a[1] ~= tenant then return {} end
  local kinds = {'shown'}
  if kind ~= 'shown' then kinds = {'shown', kind} end
  local added = {}
  for _, k in ipairs(kinds) do
    if redis.call('HSETNX', akey, 'k:' .. k, 1) == 1 then table.insert(added, k) end
  end
  if added[#added] ~= kind then return {} end
  local head = a[2] .. '|' .. a[3] .. '|' .. a[4] .. '|'
  for _, k in ipairs(added) do
    local field = k
    if k == 'accepted' then field = 'accepted:' .. source end
    redis.call('HINCRBY', totals, head .. field, 1)
    if a[5] ~= '' and k ~= 'dismissed' then
      local x = P .. ':x:' .. a[5]
      redis.call('HINCRBY', x, a[4] .. '|' .. k, 1)
      if k == 'shown' then redis.call('HINCRBY', x, a[4] .. '|cost', tonumber(a[6])) end
    end
  end
  local out = {a[2], a[3], a[4], a[5]}
  for _, k in ipairs(added) do table.insert(out, k) end
  return out
end
local out, i = {}, 3
while i <= #ARGV do
  if ARGV[i] == 'r' or ARGV[i] == 'R' then
    local akey = P .. ':a:' .. ARGV[i + 1]
    redis.call('HSET', akey, 't', ARGV[i + 2], 'l', ARGV[i + 3], 'm', ARGV[i + 4],
               'r', ARGV[i + 5], 'x', ARGV[i + 6], 'c', ARGV[i + 8])
    redis.call('EXPIRE', akey, ttl)
    if ARGV[i + 6] ~= '' then
      redis.call('SADD', P .. ':u:' .. ARGV[i + 6] .. '|' .. ARGV[i + 5], ARGV[i + 7])
    end
    if ARGV[i] == 'r' then
      table.insert(out, count(akey, ARGV[i + 2], 'shown', 'event'))
    else
      table.insert(out, {})
    end
    i = i + 9
  else
    table.insert(out, count(P .. ':a:' .. ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]))
    i = i + 5
  end
end
return out
"""


_BATCH_SCRIPT = Script(_BATCH)
CLIENT_NAME = "laneway-feedback"


class RedisFeedback:
    def __init__(
        self, url: str, ttl_s: int = 600, timeout_s: float = 1.0, max_connections: int = 16,
        layer: RedisLayer | None = None,
    ) -> None:
        self._ttl = ttl_s
        self._timeout = timeout_s
        # The batches (one per answer under load) go through the runtime's one Redis layer
        # when it has one: its lean connection costs a fraction of redis-py's per call.
        self._layer = layer
        # Bounded and blocking: a burst of events waits for a connection instead of failing.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=timeout_s,
            socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True,
            client_name=CLIENT_NAME,  # told apart in CLIENT LIST (not yet on cache/redis_layer)
        )
        self._redis: Redis = Redis.from_pool(pool)
        self._batch = self._redis.register_script(_BATCH)

    async def apply(self, ops: Sequence[Op]) -> list[Counted | None]:
        """A batch of registrations and events in one round trip (one script call)."""
        args: list[str | int] = [_P, self._ttl]
        for op in ops:
            if op[0] in ("register", "remember"):
                cid, a = op[1], op[2]
                args += ["r" if op[0] == "register" else "R", cid, a.tenant, a.lane, a.model,
                         a.arm, a.experiment, a.unit, round(a.cost_usd * 1e9)]
            else:
                args += ["e", op[1], op[2], op[3] if op[3] in KINDS else "?", op[4]]
        layer = self._layer
        if layer is not None:
            if not layer.ready:
                await layer.open(self._timeout)
            replies = await layer.run(_BATCH_SCRIPT, [], args, self._timeout)
        else:
            replies = await self._batch(keys=[], args=args)
        out: list[Counted | None] = []
        for op, reply in zip(ops, replies, strict=True):
            if not reply:
                out.append(None)
                continue
            lane, model, arm, exp, *kinds = (_s(v) for v in reply)
            tenant = op[2].tenant if op[0] in ("register", "remember") else op[2]
            out.append(Counted(Answer(tenant, lane, model, arm or "none", exp), tuple(kinds)))
        return out

    async def register(self, completion_id: str, answer: Answer) -> None:
        """Remembers the answer; nothing counted yet."""
        await self.apply([("remember", completion_id, answer)])

    async def event(
        self, completion_id: str, tenant: str, kind: str, source: str = "event"
    ) -> Counted | None:
        if kind not in KINDS:
            return None
        return (await self.apply([("event", completion_id, tenant, kind, source)]))[0]

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
