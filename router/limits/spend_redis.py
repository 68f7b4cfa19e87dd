"""The shared half of the spend ledger: Redis, shared by every replica.

The scripts (spend_scripts.py) run by SHA (loaded once, again after a Redis restart) and are
atomic: a reservation checks and holds in one step, which is what bounds the overshoot to
what is in flight.

On a plain `redis://` URL the calls go through cache/resp.py's lean connection (commands
already in wire form, one write per turn of the loop for every caller: ~4x less CPU than
redis-py's pipeline, which a budget would otherwise add to every request); TLS and clusters
go through redis-py, calls waiting at the same moment in one pipeline.
A reservation waits at most `timeout_s`; any fault marks Redis down for `RETRY_S`, during
which the ledger decides without it (`budget_fail`). A settlement never waits: when Redis
cannot take it, it is kept and sent with the next batch that gets through (a settlement
that releases a hold is idempotent; one without a hold is resent only when it surely never
reached Redis).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import hiredis
from redis.exceptions import NoScriptError

from cache.resp import RespConnection, lean_target
from router.limits.spend_scripts import RESERVE, SETTLE, SHA, Op, bucket_keys

log = logging.getLogger("laneway.spend")

RETRY_S = 1.0
HOLD_MS = 30 * 60 * 1000  # longer than any request may run (a lane's total_s is at most 15 min)
MAX_UNSENT = 10_000  # settlements kept through an outage before they are folded
SETTLE_AFTER_S = 0.02  # the longest a settlement waits for a reservation to ride with
KEEP_S = 40 * 86400  # a bucket outlives its period, for late settlements and reports

class SharedBook:
    def __init__(self, url: str, timeout_s: float, cluster: bool = False) -> None:
        from cache.redis_layer import split_cluster_url

        self.url = url
        self.timeout_s = timeout_s
        plain, named_cluster = split_cluster_url(url)
        if cluster and not named_cluster:  # `redis.cluster: true` with a plain URL
            scheme, _, rest = plain.partition("://")
            url = f"{scheme}+cluster://{rest}"
        self._client = _client(url, timeout_s)
        self._cluster = cluster or named_cluster
        self._target = None if self._cluster else lean_target(plain)
        self._conn: RespConnection | None = None
        self._opening: asyncio.Task[RespConnection] | None = None
        self._sending: set[asyncio.Future[Any]] = set()  # settlements awaiting their reply
        self._loading: asyncio.Task[None] | None = None
        self._later: asyncio.TimerHandle | None = None  # sends waiting settlements
        self._queue: list[Op] = []
        self._unsent: list[Op] = []  # settlements Redis could not take yet
        self._flusher: asyncio.Task[None] | None = None
        self._down_until = 0.0
        self.hold_ms = HOLD_MS  # how long a hold lasts if its request is never settled
        self.on_spent: Any = None  # (team, spent in its bucket) after each settlement
        with contextlib.suppress(RuntimeError):  # no running loop: connect on first use
            self._flusher = asyncio.get_running_loop().create_task(self._warm())

    @property
    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    async def reserve(self, team: str, bucket: str, budget: float, amount: float,
                      member: str, expire_at: int) -> tuple[bool, float] | None:
        """(admitted, spent before this request), or None when Redis could not answer."""
        if not self.up:
            return None
        op = Op(RESERVE, bucket_keys(team, bucket),
                [repr(budget), repr(amount), member, self.hold_ms, expire_at])
        try:
            conn = self._conn
            if self._target is not None and conn is not None and not conn.closed:
                ok, spent = await self._lean_call(op)  # bounded by the request's own deadline
            else:
                async with asyncio.timeout(self.timeout_s):
                    if self._target is not None:
                        ok, spent = await self._lean_call(op)
                    else:
                        op.future = asyncio.get_running_loop().create_future()
                        self._submit(op)
                        ok, spent = await op.future
        except Exception as exc:
            self._fault(exc)
            # A slow Redis may still run it: release the hold it would leave (a no-op
            # if it never ran), rather than let it shrink the budget until it lapses.
            self.settle(team, bucket, member, amount, 0.0, 0.0, 0, expire_at)
            return None
        if self._down_until:
            log.warning("spend: Redis is back; budgets are shared again")
            self._down_until = 0.0
        return bool(ok), float(spent)

    def settle(self, team: str, bucket: str, member: str, amount: float, cost: float,
               saved: float, requests: int, expire_at: int) -> None:
        op = Op(SETTLE, bucket_keys(team, bucket),
                [member, repr(amount), repr(cost), repr(saved), requests, expire_at], team=team)
        if self._target is None:
            self._submit(op)
            return
        conn = self._conn
        self._keep(op)
        if conn is None or conn.closed:
            if self.up:
                self._open_soon()  # sends what waits once connected
            return
        if self.up and self._later is None:
            # Not sent at once: the next reservation's write carries it (under load one
            # comes within microseconds), else this timer. A later settlement only keeps
            # the larger hold a little longer, which errs on the budget's side.
            self._later = asyncio.get_running_loop().call_later(SETTLE_AFTER_S, self._send_later)

    def _send_later(self) -> None:
        self._later = None
        conn = self._conn
        if conn is not None and not conn.closed and self.up:
            self._send_unsent(conn)

    # -- the lean connection (plain redis://) ---------------------------------------------

    def _open_soon(self) -> asyncio.Task[RespConnection]:
        if self._opening is None or self._opening.done():
            assert self._target is not None
            self._opening = asyncio.get_running_loop().create_task(
                RespConnection.open(self._target, max(self.timeout_s * 4, 0.2)))
            self._opening.add_done_callback(self._opened)
        return self._opening

    def _opened(self, opening: asyncio.Task[RespConnection]) -> None:
        if opening.cancelled():
            return
        exc = opening.exception()
        if exc is not None:
            self._fault(exc)
            return
        self._conn = opening.result()
        self._send_unsent(self._conn)

    def _keep(self, op: Op) -> None:
        """Hold a settlement for a later send; a long outage folds those that never reached
        Redis into one per team and period (their holds then lapse after HOLD_MS instead
        of being released), so memory stays bounded and nothing is counted twice."""
        self._unsent.append(op)
        if len(self._unsent) <= MAX_UNSENT:
            return
        folded: dict[tuple[str, ...], Op] = {}
        kept = []
        for o in self._unsent:
            if o.sent:
                kept.append(o)
                continue
            one = folded.get(tuple(o.keys))
            if one is None:
                one = folded[tuple(o.keys)] = Op(SETTLE, o.keys, ["", "0", 0.0, 0.0, 0, 0],
                                                 team=o.team)
            a = one.args
            a[2] += float(o.args[2])
            a[3] += float(o.args[3])
            a[4] += int(o.args[4])
            a[5] = max(int(a[5]), int(o.args[5]))
        for one in folded.values():
            one.args[2], one.args[3] = repr(one.args[2]), repr(one.args[3])
        self._unsent = kept + list(folded.values())
        if len(self._unsent) > MAX_UNSENT:  # settlements that may have counted: the oldest go
            log.warning("spend: %d settlements dropped during a Redis outage",
                        len(self._unsent) - MAX_UNSENT)
            del self._unsent[:len(self._unsent) - MAX_UNSENT]

    def _send_unsent(self, conn: RespConnection) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        waiting, self._unsent = self._unsent, []
        for op in waiting:
            self._lean_settle(conn, op)

    async def _lean_conn(self) -> RespConnection:
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = await asyncio.shield(self._open_soon())
        return conn

    async def _lean_call(self, op: Op) -> Any:
        conn = await self._lean_conn()
        if self._unsent:
            self._send_unsent(conn)  # the same write as this call
        try:
            return await conn.request(op.wire(), self.timeout_s)
        except hiredis.ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await conn.pipeline([(b"SCRIPT", b"LOAD", s.encode()) for s in SHA], self.timeout_s)
        return await conn.request(op.wire(), self.timeout_s)

    def _lean_settle(self, conn: RespConnection, op: Op) -> None:
        op.sent = not conn.closed
        reply = conn.request(op.wire(), max(self.timeout_s * 4, 1.0))
        self._sending.add(reply)
        reply.add_done_callback(lambda r: self._lean_settled(op, r))

    def _lean_settled(self, op: Op, reply: asyncio.Future[Any]) -> None:
        self._sending.discard(reply)
        exc = reply.exception()
        if exc is None:
            if self.on_spent is not None:
                self.on_spent(op.team, float(reply.result()))
            return
        if isinstance(exc, hiredis.ReplyError) and str(exc).startswith("NOSCRIPT"):
            op.sent = False
            self._keep(op)  # it did not run: load the scripts, send it again later
            if self._loading is None or self._loading.done():
                self._loading = asyncio.get_running_loop().create_task(self._load_scripts())
        elif op.args[0] or _never_sent(exc):
            self._fault(exc)
            op.sent = op.sent and not _never_sent(exc)
            self._keep(op)
        else:
            self._fault(exc)
            log.warning("spend: a settlement of team %s may be lost (%s)", op.team,
                        type(exc).__name__)

    async def _load_scripts(self) -> None:
        with contextlib.suppress(Exception):
            conn = await self._lean_conn()
            await conn.pipeline([(b"SCRIPT", b"LOAD", s.encode()) for s in SHA], 1.0)
            self._send_unsent(conn)  # what found no script, or came while connecting

    async def totals(self, buckets: list[tuple[str, str]]) -> list[dict[str, float]]:
        """Each (team, bucket)'s spent, held, requests and saved; raises if Redis fails."""
        pipe = self._client.pipeline(transaction=False)
        for team, bucket in buckets:
            pipe.hmget(bucket_keys(team, bucket)[0], "spent", "held", "requests", "saved")
        async with asyncio.timeout(max(self.timeout_s, 1.0)):
            rows = await pipe.execute()
        names = ("spent", "held", "requests", "saved")
        return [{n: float(v or 0) for n, v in zip(names, row, strict=True)} for row in rows]

    async def drain(self, timeout_s: float = 2.0) -> None:
        """Wait (bounded) until every settlement sent so far has its answer."""
        if self._later is not None:
            self._later.cancel()
            self._send_later()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(timeout_s):
                while True:
                    busy: list[asyncio.Future[Any]] = [
                        t for t in (self._flusher, self._opening, self._loading)
                        if t is not None and not t.done()
                    ]
                    busy += self._sending
                    if not busy:
                        return
                    await asyncio.wait(busy)

    async def close(self) -> None:
        await self.drain(1.0)  # a shutdown must not drop the last requests' spend
        if self._conn is not None:
            self._conn.close()
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._flusher), 1.0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.aclose(), 1.0)

    async def _warm(self) -> None:
        # Connected, scripts loaded: the first request pays for neither.
        if self._target is not None:
            await self._load_scripts()
            return
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                for script in SHA:
                    await self._client.script_load(script)
        await self._flush()

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
                    op.sent = self.up and not _never_sent(result)
                    self._keep(op)  # nothing spent is lost to a Redis hiccup
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
        missing = [i for i, r in enumerate(results) if isinstance(r, NoScriptError)]
        if missing:
            # A fresh (or restarted) Redis: load the scripts and send again only what found
            # none (a script that found no SHA did not run, so nothing counts twice).
            try:
                for script in SHA:
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
        if self._cluster:
            # redis-py refuses EVALSHA in a cluster pipeline: one call per script, together.
            calls = [self._client.evalsha(SHA[op.script], len(op.keys), *op.keys, *op.args)
                     for op in batch]
            results: list[Any] = list(await asyncio.gather(*calls, return_exceptions=True))
            failed = [r for r in results if isinstance(r, Exception)]
            if len(failed) == len(results) and not isinstance(failed[0], NoScriptError):
                self._fault(failed[0])
                return None
            return results
        pipe = self._client.pipeline(transaction=False)
        for op in batch:
            pipe.evalsha(SHA[op.script], len(op.keys), *op.keys, *op.args)
        try:
            results = await pipe.execute(raise_on_error=False)
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


def _client(url: str, timeout_s: float) -> Any:
    """redis-py for TLS and clusters (plain redis:// goes through the lean connection)."""
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    from cache.redis_layer import split_cluster_url

    # redis-py's own retries are off (laneway's bound is `timeout_s`, then it fails over);
    # its socket timeouts only bound the flusher, which no request waits on past timeout_s.
    backstop = max(timeout_s * 4, 0.2)
    options: dict[str, Any] = {
        "socket_timeout": backstop, "socket_connect_timeout": backstop,
        "retry": Retry(NoBackoff(), 0),
    }
    plain, cluster = split_cluster_url(url)
    if cluster:
        return RedisCluster.from_url(plain, **options)
    pool = BlockingConnectionPool.from_url(plain, max_connections=4, timeout=backstop, **options)
    return Redis.from_pool(pool)  # owns the pool: closing the client closes its connections
