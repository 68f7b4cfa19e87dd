"""L2: Redis (single or Cluster), shared by every replica, never trusted to be there.

Fault rules:
- Every read is bounded by `timeout_s` (default 50 ms). The Redis call runs in its own
  task and the caller stops waiting at the deadline, whatever the client library is doing
  (a frozen server, a connect that hangs): a sick Redis costs a request at most the
  timeout, and the answer is a miss (fail open). (`asyncio.timeout` around the call would
  save the task but wait for redis-py to unwind after the deadline: measured 0.3 s.)
  A cluster's slot map is (re)learnt by the prober with a longer deadline, never on a
  request's clock (`_unmapped`).
- A breaker (`cache.faults`): `failures` faults within a short window open it, and reads
  and writes skip Redis at once (a miss, a dropped write). A background task PINGs (every
  shard of a cluster) every `probe_interval_s` while it is open or Redis is not yet known
  to be up, and closes it on the first answer, so caching resumes by itself once Redis is
  back; while closed it PINGs every `health_interval_s`, so `state()` (and `on_health`)
  stay true even without traffic.
- A stored value names its key (`StoredAnswer.to_bytes`): a reply that a cancelled command
  left on a connection can only ever be a miss, never another request's answer.
- Writes never delay an answer: `put` queues (bounded; when full the write is dropped and
  counted) and a writer task sends batches in a non-transactional pipeline (it lingers
  `linger_s` after a batch's first write, so writes under load share a round trip).
- A plain `redis://` or `unix://` Redis is spoken to over one lean pipelined connection
  (cache/resp.py: ~80 instead of ~280 µs of CPU per GET); the prober (re)opens it, so a
  request never waits for a connect. TLS and clusters go through redis-py.
- redis-py's own retries are off (they would spend the budget waiting); its socket timeouts
  are a backstop for the writer and the probe, which run off the request path.

Cluster: `cluster=True`, or a `redis+cluster://` / `rediss+cluster://` / `redis-cluster://`
URL, uses `redis.asyncio.cluster.RedisCluster`; every operation is on a single key (or a
pipeline the cluster client splits by node), so nothing needs hash tags.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Literal

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from cache.faults import Breaker, bounded, wait_event
from cache.resp import RespConnection, command, lean_target

log = logging.getLogger("laneway.cache")

EventSink = Callable[[str, str], None]
_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss", "redis-cluster": "redis"}


def split_cluster_url(url: str) -> tuple[str, bool]:
    """(a URL redis-py understands, whether it names a cluster)."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in _CLUSTER_SCHEMES:
        return f"{_CLUSTER_SCHEMES[scheme.lower()]}://{rest}", True
    return url, False


class RedisStore:
    def __init__(
        self,
        url: str,
        *,
        cluster: bool = False,
        timeout_s: float = 0.05,
        write_timeout_s: float | None = None,
        queue_size: int = 2048,
        batch: int = 64,
        linger_s: float = 0.005,
        failures: int = 3,
        probe_interval_s: float = 0.25,
        health_interval_s: float = 2.0,
        max_connections: int = 64,
        on_event: EventSink | None = None,
        on_health: Callable[[bool], None] | None = None,
    ) -> None:
        plain_url, named_cluster = split_cluster_url(url)
        self.cluster = cluster or named_cluster
        self.timeout_s = timeout_s
        self.write_timeout_s = write_timeout_s or max(0.25, timeout_s * 5)
        self.probe_interval_s = probe_interval_s
        self.init_timeout_s = max(2.0, self.write_timeout_s)
        self.health_interval_s = health_interval_s
        self.batch = batch
        self.linger_s = linger_s
        self.breaker = Breaker(failures)
        self.healthy: bool | None = None  # None until the first probe or operation answers
        self.dropped = 0
        self.on_event = on_event
        self.on_health = on_health
        self._queue: asyncio.Queue[tuple[str, bytes, int]] | None = None
        self._queue_size = queue_size
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._probed = asyncio.Event()
        self._closed = False
        # A plain Redis: the lean connection is all it needs. TLS and clusters: redis-py.
        self._target = None if self.cluster else lean_target(plain_url)
        self._conn: RespConnection | None = None  # opened by the prober or the writer
        self._opening: asyncio.Future[RespConnection] | None = None
        self.client: Redis | RedisCluster | None = None
        if self._target is None:
            options: dict[str, Any] = {
                "socket_timeout": self.write_timeout_s,
                "socket_connect_timeout": self.write_timeout_s,
                "retry": Retry(NoBackoff(), 0),
                "health_check_interval": 10,
            }
            if self.cluster:
                self.client = RedisCluster.from_url(
                    plain_url, max_connections=max_connections, **options
                )
            else:
                pool = BlockingConnectionPool.from_url(
                    plain_url, max_connections=max_connections, timeout=self.write_timeout_s,
                    **options,
                )
                self.client = Redis.from_pool(pool)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer and the prober; needs a running loop. Idempotent."""
        if self._tasks or self._closed:
            return
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(self._queue_size)
        self._tasks = [loop.create_task(self._writer()), loop.create_task(self._prober())]

    async def connect(self, timeout_s: float = 2.0) -> bool:
        """Start, and wait (bounded) for the first probe: a cluster's slot map is then known
        before the first request. True when Redis answered; laneway serves either way."""
        self.start()
        await wait_event(self._probed, timeout_s)
        return self.state() == "ok"

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._opening is not None:
            self._opening.cancel()
        if self._conn is not None:
            self._conn.close()
        if self.client is not None:
            with contextlib.suppress(Exception):
                await bounded(self.client.aclose(), 1.0)

    def state(self) -> Literal["ok", "degraded"]:
        with contextlib.suppress(RuntimeError):  # no running loop: report what is known
            self.start()
        return "ok" if self.healthy and not self.breaker.open else "degraded"

    # -- operations --------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The stored value, or None: a miss, or Redis could not answer in time (fail open)."""
        self.start()
        if self.breaker.open or self._unmapped():
            self._event("skip")
            return None
        try:
            if self._target is not None:
                conn = self._conn
                if conn is None or conn.closed:
                    opening = self._open_soon()
                    if self.healthy is not None:  # lost: the prober's business, not ours
                        raise ConnectionError("no connection to Redis")
                    # The first requests after start wait for the connect (bounded).
                    conn = await asyncio.wait_for(asyncio.shield(opening), self.timeout_s)
                # A timer on the reply, no task: a late reply is read and dropped.
                value = await conn.request(command(b"GET", key.encode()), self.timeout_s)
            else:
                # Its own task (`bounded`), not `asyncio.timeout` around the call: a
                # deadline that cancels the GET in place then waits for redis-py to unwind,
                # which against a frozen server measured 0.3 s instead of 50 ms.
                assert self.client is not None
                value = await bounded(self.client.get(key), self.timeout_s)
        except Exception as exc:
            self._fault("get", exc)
            return None
        self._ok()
        self._event("hit" if value is not None else "miss")
        return value if isinstance(value, bytes) else None

    def put(self, key: str, value: bytes, ttl_s: float) -> bool:
        """Queue a write; never waits. False when it was dropped (queue full, breaker open)."""
        self.start()
        if self._queue is None or self.breaker.open or ttl_s <= 0:
            self._drop()
            return False
        try:
            self._queue.put_nowait((key, value, max(1, int(ttl_s * 1000))))
        except asyncio.QueueFull:
            self._drop()
            return False
        return True

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until queued writes were sent (tests, graceful shutdown)."""
        if self._queue is not None:
            await asyncio.wait_for(self._queue.join(), timeout_s)

    # -- background --------------------------------------------------------------------------

    async def _writer(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            items = [await queue.get()]
            if self.linger_s > 0 and queue.qsize() < self.batch - 1:
                # Under load a write arrives every few ms: wait a moment for more, so they
                # go out as one pipeline (one round trip, one wake-up) instead of one each.
                await asyncio.sleep(self.linger_s)
            while len(items) < self.batch and not queue.empty():
                items.append(queue.get_nowait())
            try:
                if self.breaker.open:
                    self.dropped += len(items)
                    for _ in items:
                        self._event("drop")
                    continue
                try:
                    await self._write(items)
                except Exception as exc:
                    self._fault("set", exc)
                    self.dropped += len(items)
                else:
                    self._ok()
                    for _ in items:
                        self._event("store")
            finally:
                for _ in items:
                    queue.task_done()

    async def _write(self, items: list[tuple[str, bytes, int]]) -> None:
        """One pipelined batch of SETs (PX: the TTL in ms), bounded by `write_timeout_s`."""
        if self._target is not None:
            conn = await self._open()  # the writer may wait for a connect: nobody waits on it
            sets = [(b"SET", k.encode(), v, b"PX", b"%d" % ms) for k, v, ms in items]
            await conn.pipeline(sets, self.write_timeout_s)
            return
        assert self.client is not None
        pipe = self.client.pipeline(transaction=False)
        for key, value, ttl_ms in items:
            pipe.set(key, value, px=ttl_ms)
        await bounded(pipe.execute(), self.write_timeout_s)

    async def _open(self) -> RespConnection:
        """The lean connection, opened (once, however many ask) when there is none."""
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        return await asyncio.shield(self._open_soon())

    def _open_soon(self) -> asyncio.Future[RespConnection]:
        if self._opening is None:
            assert self._target is not None
            self._opening = asyncio.ensure_future(
                RespConnection.open(self._target, self.write_timeout_s)
            )
            self._opening.add_done_callback(self._opened)
        return self._opening

    def _opened(self, opening: asyncio.Future[RespConnection]) -> None:
        self._opening = None
        if opening.cancelled() or opening.exception() is not None:
            return  # the prober and the writer say why, on their own failed waits
        if self._closed:
            opening.result().close()
        else:
            self._conn = opening.result()

    def _unmapped(self) -> bool:
        """A cluster client that must (re)learn the slot map first: the prober does that, with
        a longer deadline, so no request pays for it — or cancels it halfway, forever."""
        if self.cluster and getattr(self.client, "_initialize", False):
            self._wake.set()
            return True
        return False

    async def _prober(self) -> None:
        while True:
            try:
                if self._unmapped():
                    assert isinstance(self.client, RedisCluster)
                    await bounded(self.client.initialize(), self.init_timeout_s)
                await self._ping()
            except Exception as exc:
                if self.healthy is not False:
                    log.warning("cache: Redis unreachable (%s); serving without L2", _brief(exc))
                self.healthy = False
                self.breaker.trip()
            else:
                if self.healthy is False or self.breaker.open:
                    log.info("cache: Redis is back; L2 resumes")
                self.healthy = True
                self.breaker.reset()
            self._probed.set()
            if self.on_health is not None:
                self.on_health(self.state() == "ok")
            healthy = self.healthy and not self.breaker.open
            self._wake.clear()
            # A breaker that opens meanwhile wakes the prober early: recovery starts at once.
            await wait_event(
                self._wake, self.health_interval_s if healthy else self.probe_interval_s
            )

    # -- helpers -----------------------------------------------------------------------------

    async def _ping(self) -> None:
        """PING within `write_timeout_s`. On the lean connection: (re)open it first when it
        is gone, and drop it when the PING fails, so the next probe starts afresh on a new
        socket instead of waiting behind a dead one."""
        if self._target is not None:
            conn = None
            try:
                conn = await self._open()
                await conn.pipeline([(b"PING",)], self.write_timeout_s)
            except BaseException:
                if conn is not None:
                    conn.close()
                raise
        elif isinstance(self.client, RedisCluster):
            await bounded(
                self.client.ping(target_nodes=RedisCluster.PRIMARIES), self.write_timeout_s
            )  # every shard
        else:
            assert self.client is not None
            await bounded(self.client.ping(), self.write_timeout_s)

    def _ok(self) -> None:
        self.healthy = True

    def _fault(self, op: str, exc: BaseException) -> None:
        was_open = self.breaker.open
        self.breaker.failure()
        self._event("error")
        if self.breaker.open and not was_open:
            self.healthy = False
            self._wake.set()
            log.warning("cache: Redis %s failed (%s); breaker open", op, _brief(exc))

    def _drop(self) -> None:
        self.dropped += 1
        self._event("drop")

    def _event(self, result: str) -> None:
        if self.on_event is not None:
            self.on_event("l2", result)


def _brief(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
