"""laneway's one way to Redis: the response cache, rate limits, spend and experiment counts.

Public API (everything else here is private). In the proxy, use the runtime's own instance,
`rt.redis` (None without `redis.url`): the cache and the rate limits share it, one pipelined
connection per worker, opened and closed for you. Elsewhere (tools, tests):

    layer = RedisLayer.from_config(config.raw.redis)    # or RedisLayer(url, cluster=, timeout_s=)
    await layer.open(timeout_s)      # connect (a cluster: learn its slots); single-flight
    layer.ready                      # usable now, without waiting for a connect
    layer.up                         # None until an exchange said, then whether the last one worked
    await layer.get(key, timeout_s)                             # bytes | None
    await layer.pipeline([("INCRBY", key, 3), ("HINCRBY", h, "f", 1), ("GET", k)], timeout_s)
    RESERVE = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")   # once, at import
    await layer.run(RESERVE, [key], [5], timeout_s)
    await layer.run_many([(RESERVE, [k1], [1]), (RESERVE, [k2], [2])], timeout_s)
    await layer.ping(timeout_s)      # every primary of a cluster
    await layer.close()

Arguments may be str, bytes, int or float; replies are what Redis sends (bytes, int, lists).
A whole call fails with ConnectionError or TimeoutError when Redis could not answer in time;
inside `pipeline` / `run_many` results, an error reply of Redis's is a `ReplyError` in its
place (the other commands' results stand). `run` raises it. Each caller owns its own fault
policy (fail open, fall back to per-process state): this layer never retries on its own,
except that a script Redis no longer knows (NOSCRIPT, after a restart or a failover) is sent
once more in full with EVAL, which also loads it again.

Transports, picked from the URL (`cluster=True` or a `redis+cluster://`, `rediss+cluster://`,
`redis-cluster://` URL means a cluster):
- plain `redis://` and `unix://`: one lean pipelined connection (cache/resp.py; ~80 instead
  of ~280 µs of CPU per GET through redis-py's client), (re)opened by `open()`; a request
  never waits for a connect it did not ask for: `get` on a lost connection raises at once
  and starts a new one.
- `rediss://` (TLS) and clusters: redis-py's public client API, with its own retries off
  (they would spend a request's budget) and each call bounded by running it in its own task
  (`cache.faults.bounded`): a frozen server costs the caller the timeout, not the socket's.
  A cluster's slot map is learnt by `open()` (a prober's business, with a longer deadline),
  never on a request's clock: after any fault the layer is not `ready` until `open()` again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import hiredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, ResponseError

from cache.faults import bounded
from cache.resp import RespConnection, command, lean_target

Arg = str | bytes | int | float
_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss", "redis-cluster": "redis"}


class ReplyError(Exception):
    """An error reply from Redis (`WRONGTYPE ...`, `NOSCRIPT ...`, a script's own error)."""

    @property
    def noscript(self) -> bool:
        return str(self).startswith("NOSCRIPT")


class Script:
    """A Lua script, known by its SHA1: sent in full only when Redis does not know it yet."""

    __slots__ = ("lua", "sha")

    def __init__(self, lua: str) -> None:
        self.lua = lua.encode()
        self.sha = hashlib.sha1(self.lua).hexdigest().encode()


def split_cluster_url(url: str) -> tuple[str, bool]:
    """(a URL redis-py understands, whether it names a cluster)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _CLUSTER_SCHEMES:
        return f"{_CLUSTER_SCHEMES[scheme.lower()]}://{rest}", True
    return url, False


def _b(a: Arg) -> bytes:
    if isinstance(a, bytes):
        return a
    if isinstance(a, str):
        return a.encode()
    if isinstance(a, float):
        return repr(a).encode()
    return b"%d" % a


def _reply(r: Any) -> Any:
    if isinstance(r, NoScriptError):  # redis-py strips the reply's own NOSCRIPT prefix
        return ReplyError(f"NOSCRIPT {r}")
    if isinstance(r, hiredis.ReplyError | ResponseError):
        return ReplyError(str(r))
    return r


class RedisLayer:
    def __init__(
        self,
        url: str,
        *,
        cluster: bool = False,
        timeout_s: float = 0.05,
        connect_timeout_s: float | None = None,
        max_connections: int = 64,
    ) -> None:
        plain_url, named_cluster = split_cluster_url(url)
        self.url = url
        self.cluster = cluster or named_cluster
        self.timeout_s = timeout_s  # the default bound of a call on a request's clock
        self.connect_timeout_s = connect_timeout_s or max(0.25, timeout_s * 5)
        self.up: bool | None = None
        self._target = None if self.cluster else lean_target(plain_url)
        self._conn: RespConnection | None = None
        self._opening: asyncio.Future[RespConnection] | None = None
        self._mapped = False  # a cluster's slot map is known and no fault happened since
        self._closed = False
        self._client: Redis | RedisCluster | None = None
        if self._target is None:
            options: dict[str, Any] = {
                "socket_timeout": self.connect_timeout_s,
                "socket_connect_timeout": self.connect_timeout_s,
                "retry": Retry(NoBackoff(), 0),
                "health_check_interval": 10,
            }
            if self.cluster:
                self._client = RedisCluster.from_url(
                    plain_url, max_connections=max_connections, **options
                )
            else:
                pool = BlockingConnectionPool.from_url(
                    plain_url, max_connections=max_connections,
                    timeout=self.connect_timeout_s, **options,
                )
                self._client = Redis.from_pool(pool)  # owns the pool: aclose closes it

    @classmethod
    def from_config(cls, redis: Any) -> RedisLayer | None:
        """From the config's `redis:` section (url, cluster, timeout_ms); None without a URL."""
        if not redis.url:
            return None
        return cls(redis.url, cluster=redis.cluster, timeout_s=redis.timeout_ms / 1000)

    # -- state ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        if self._target is not None:
            conn = self._conn
            return conn is not None and not conn.closed
        return self._mapped or not self.cluster

    async def open(self, timeout_s: float | None = None) -> None:
        """Connect (a cluster: learn its slot map) unless already `ready`; raises on failure."""
        timeout_s = timeout_s or self.connect_timeout_s
        if self._target is not None:
            if not self.ready:
                await asyncio.wait_for(asyncio.shield(self._open_soon()), timeout_s)
            return
        if isinstance(self._client, RedisCluster) and not self._mapped:
            await self._guard(bounded(self._client.initialize(), timeout_s))
            self._mapped = True

    def _open_soon(self) -> asyncio.Future[RespConnection]:
        if self._opening is None:
            assert self._target is not None
            self._opening = asyncio.ensure_future(
                RespConnection.open(self._target, self.connect_timeout_s)
            )
            self._opening.add_done_callback(self._opened)
        return self._opening

    def _opened(self, opening: asyncio.Future[RespConnection]) -> None:
        self._opening = None
        if opening.cancelled() or opening.exception() is not None:
            self.up = False
            return
        if self._closed:
            opening.result().close()
        else:
            self._conn = opening.result()

    def _lean(self) -> RespConnection:
        conn = self._conn
        if conn is None or conn.closed:
            if not self._closed:
                self._open_soon()  # for the next caller; this one does not wait for it
            raise ConnectionError("no connection to Redis")
        return conn

    async def _guard(self, op: Any) -> Any:
        """Await a redis-py call: any fault marks the layer down (a cluster: unmapped)."""
        try:
            result = await op
        except ResponseError as exc:
            self.up = True
            raise ReplyError(str(exc)) from None
        except BaseException:
            self.up = False
            self._mapped = False
            raise
        self.up = True
        return result

    async def _lean_call(self, fut: Any) -> Any:
        try:
            result = await fut
        except hiredis.ReplyError as exc:
            self.up = True
            raise ReplyError(str(exc)) from None
        except BaseException:
            self.up = False
            raise
        self.up = True
        return result

    # -- commands ------------------------------------------------------------------------------

    async def get(self, key: str, timeout_s: float | None = None) -> bytes | None:
        timeout_s = timeout_s or self.timeout_s
        if self._target is not None:
            conn = self._conn
            if conn is None or conn.closed:
                conn = self._lean()  # raises, and opens a new one for the next caller
            # A timer on the reply, no task: a late reply is read and dropped. Awaited here,
            # not through _lean_call: every cacheable miss pays for this path.
            try:
                value = await conn.request(command(b"GET", key.encode()), timeout_s)
            except BaseException:
                self.up = False
                raise
            self.up = True
        else:
            assert self._client is not None
            value = await self._guard(bounded(self._client.get(key), timeout_s))
        return value if isinstance(value, bytes) else None

    async def pipeline(
        self, commands: Sequence[Sequence[Arg]], timeout_s: float | None = None
    ) -> list[Any]:
        """Several commands, one round trip (a cluster: one per node, not transactional);
        their replies in order, an error reply as a ReplyError in its place."""
        if not commands:
            return []
        timeout_s = timeout_s or self.timeout_s
        wire = [tuple(_b(a) for a in c) for c in commands]
        if self._target is not None:
            conn = self._lean()
            replies = await self._lean_call(conn.pipeline(wire, timeout_s, raise_on_error=False))
            return [_reply(r) for r in replies]
        assert self._client is not None
        pipe = self._client.pipeline(transaction=False)
        for c in wire:
            pipe.execute_command(c[0].decode(), *c[1:])  # redis-py routes by a str name
        replies = await self._guard(bounded(pipe.execute(raise_on_error=False), timeout_s))
        return [_reply(r) for r in replies]

    async def run(
        self, script: Script, keys: Sequence[Arg], args: Sequence[Arg] = (),
        timeout_s: float | None = None,
    ) -> Any:
        (result,) = await self.run_many([(script, keys, args)], timeout_s)
        if isinstance(result, ReplyError):
            raise result
        return result

    async def run_many(
        self, calls: Iterable[tuple[Script, Sequence[Arg], Sequence[Arg]]],
        timeout_s: float | None = None,
    ) -> list[Any]:
        """Scripts by SHA in one pipeline; those Redis no longer knows go again in full."""
        calls = list(calls)
        results = await self.pipeline(
            [(b"EVALSHA", s.sha, len(k), *k, *a) for s, k, a in calls], timeout_s
        )
        again = [i for i, r in enumerate(results) if isinstance(r, ReplyError) and r.noscript]
        if again:
            retried = await self.pipeline(
                [(b"EVAL", calls[i][0].lua, len(calls[i][1]), *calls[i][1], *calls[i][2])
                 for i in again], timeout_s,
            )
            for i, r in zip(again, retried, strict=True):
                results[i] = r
        return results

    async def ping(self, timeout_s: float | None = None) -> None:
        """PING (every primary of a cluster). On the lean connection a failed PING drops it,
        so the next `open` starts afresh on a new socket instead of behind a dead one."""
        timeout_s = timeout_s or self.connect_timeout_s
        if self._target is not None:
            conn = None
            try:
                await self.open(timeout_s)
                conn = self._lean()
                await self._lean_call(conn.pipeline([(b"PING",)], timeout_s))
            except BaseException:
                self.up = False
                if conn is not None:
                    conn.close()
                raise
        elif isinstance(self._client, RedisCluster):
            await self.open(timeout_s)
            await self._guard(bounded(
                self._client.ping(target_nodes=RedisCluster.PRIMARIES), timeout_s
            ))
        else:
            assert self._client is not None
            await self._guard(bounded(self._client.ping(), timeout_s))

    async def close(self) -> None:
        self._closed = True
        if self._opening is not None:
            self._opening.cancel()
        if self._conn is not None:
            self._conn.close()
        if self._client is not None:
            with contextlib.suppress(Exception):
                await bounded(self._client.aclose(), 1.0)
