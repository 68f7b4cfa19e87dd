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
- Redis is spoken to through cache/redis_layer.py (a lean pipelined connection for a plain
  `redis://` / `unix://`, redis-py for TLS and clusters); the prober (re)opens it, so a
  request never waits for a connect, except the very first ones, bounded by `timeout_s`.

Cluster: `cluster=True`, or a `redis+cluster://` / `rediss+cluster://` / `redis-cluster://`
URL, uses `redis.asyncio.cluster.RedisCluster`; every operation is on a single key (or a
pipeline the cluster client splits by node), so nothing needs hash tags.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal

from cache.faults import Breaker, wait_event
from cache.redis_layer import RedisLayer, split_cluster_url

__all__ = ["RedisStore", "split_cluster_url"]

log = logging.getLogger("laneway.cache")

EventSink = Callable[[str, str], None]


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
        layer: RedisLayer | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.write_timeout_s = write_timeout_s or max(0.25, timeout_s * 5)
        # A layer given is shared (the runtime's, with the limiter) and closed by its owner.
        self._owns_layer = layer is None
        self.layer = layer or RedisLayer(
            url, cluster=cluster, timeout_s=timeout_s, connect_timeout_s=self.write_timeout_s,
            max_connections=max_connections,
        )
        self.cluster = self.layer.cluster
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
        if self._owns_layer:
            await self.layer.close()

    def state(self) -> Literal["ok", "degraded"]:
        with contextlib.suppress(RuntimeError):  # no running loop: report what is known
            self.start()
        return "ok" if self.healthy and not self.breaker.open else "degraded"

    # -- operations --------------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The stored value, or None: a miss, or Redis could not answer in time (fail open)."""
        self.start()
        layer = self.layer
        if self.breaker.open or (self.cluster and not layer.ready):
            if self.cluster:
                self._wake.set()  # the prober learns the slot map, never a request
            self._event("skip")
            return None
        try:
            if self.healthy is None and not layer.ready:
                await layer.open(self.timeout_s)  # the first requests wait for the connect
            value = await layer.get(key, self.timeout_s)
        except Exception as exc:
            self._fault("get", exc)
            return None
        self._ok()
        self._event("hit" if value is not None else "miss")
        return value

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
        if not self.layer.ready:
            await self.layer.open()  # the writer may wait for a connect: nobody waits on it
        replies = await self.layer.pipeline(
            [(b"SET", k, v, b"PX", ms) for k, v, ms in items], self.write_timeout_s
        )
        errors = [r for r in replies if isinstance(r, Exception)]
        if errors:
            raise errors[0]

    async def _prober(self) -> None:
        while True:
            try:
                await self.layer.open(self.init_timeout_s)
                await self.layer.ping(self.write_timeout_s)
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
