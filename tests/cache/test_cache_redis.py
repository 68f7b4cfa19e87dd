"""L2 against real redis-server processes: sharing, TTLs, and every way Redis can be sick."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from procs import RedisServer, low_port
from timing import against_control, within

from cache.redis_store import RedisStore, split_cluster_url

TIMEOUT = 0.05


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[RedisStore]:
    s = RedisStore(redis_server.url, timeout_s=TIMEOUT, probe_interval_s=0.05)
    yield s
    await s.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll with a bounded deadline; returns how long it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def bounded_gets(store: RedisStore, *keys: str) -> None:
    """Every get is a miss, and none waits much longer than the timeout."""
    values, wait, control = await against_control(TIMEOUT, *(store.get(k) for k in keys))
    assert values == [None] * len(keys)
    assert within(wait, control), (wait, control)


async def test_put_then_get_with_ttl(store: RedisStore, redis_server: RedisServer) -> None:
    assert await store.get("lw:test:a") is None
    assert store.put("lw:test:a", b"value", 30)
    await store.drain()
    assert await store.get("lw:test:a") == b"value"
    assert 28_000 < int(redis_server.cli("pttl", "lw:test:a")) <= 30_000
    await until(lambda: _true(store.state() == "ok"), 2, "the first probe")


async def test_frozen_redis_costs_at_most_the_timeout_and_recovers(
    store: RedisStore, redis_server: RedisServer
) -> None:
    store.put("lw:test:before", b"1", 30)
    await store.drain()
    redis_server.freeze()
    try:
        await bounded_gets(store, *(f"lw:test:{i}" for i in range(20)))
        for _ in range(10):
            await bounded_gets(store, "lw:test:before")
        assert store.breaker.open and store.state() == "degraded"
        _, wait, control = await against_control(0, store.get("lw:test:before"))
        assert wait <= control + 0.005  # breaker open: no waiting at all
        assert not store.put("lw:test:during", b"x", 30)  # dropped, not queued behind Redis
    finally:
        redis_server.thaw()
    took = await until(lambda: _true(store.state() == "ok"), 5, "Redis to be back")
    assert took < 3
    store.put("lw:test:after", b"2", 30)
    await store.drain()
    assert redis_server.cli("get", "lw:test:after") == "2"
    assert await store.get("lw:test:before") == b"1"


async def test_killed_and_restarted_redis(store: RedisStore, redis_server: RedisServer) -> None:
    store.put("lw:test:k", b"1", 30)
    await store.drain()
    redis_server.kill()
    for _ in range(10):
        await bounded_gets(store, "lw:test:k")
    await until(lambda: _true(store.state() == "degraded"), 2, "the breaker to open")
    redis_server.start()  # same port, empty (no persistence)
    await until(lambda: _true(store.state() == "ok"), 5, "Redis to be back")
    store.put("lw:test:k", b"2", 30)
    await store.drain()
    assert await store.get("lw:test:k") == b"2"


async def test_starts_without_redis_and_picks_it_up_later(tmp_path: Path) -> None:
    port = low_port()
    store = RedisStore(f"redis://127.0.0.1:{port}/0", timeout_s=TIMEOUT, probe_interval_s=0.05)
    try:
        await bounded_gets(store, "lw:test:x")
        await until(lambda: _true(store.state() == "degraded"), 2, "the first probe")
        server = RedisServer(tmp_path, port=port)
        try:
            await until(lambda: _true(store.state() == "ok"), 5, "Redis to appear")
            store.put("lw:test:x", b"v", 30)
            await store.drain()
            assert await store.get("lw:test:x") == b"v"
        finally:
            server.kill()
    finally:
        await store.close()


async def test_a_full_write_queue_drops_instead_of_waiting(redis_server: RedisServer) -> None:
    events: list[tuple[str, str]] = []
    store = RedisStore(redis_server.url, queue_size=4,
                       on_event=lambda tier, result: events.append((tier, result)))
    try:
        accepted = [store.put(f"lw:test:{i}", b"x", 30) for i in range(10)]
        assert accepted == [True] * 4 + [False] * 6
        assert store.dropped == 6 and events.count(("l2", "drop")) == 6
        await store.drain()
        assert events.count(("l2", "store")) == 4
        assert redis_server.cli("dbsize") == "4"
    finally:
        await store.close()


async def test_cluster_serves_as_l2(redis_cluster: list[RedisServer]) -> None:
    url = f"redis+cluster://127.0.0.1:{redis_cluster[0].port}"
    store = RedisStore(url, timeout_s=TIMEOUT)
    assert store.cluster
    try:
        await until(lambda: _true(store.state() == "ok"), 10, "the cluster client to connect")
        for i in range(30):
            store.put(f"lw:test:{i}", str(i).encode(), 30)
        await store.drain()
        for i in range(30):
            assert await store.get(f"lw:test:{i}") == str(i).encode()
        sizes = [int(node.cli("dbsize")) for node in redis_cluster]
        assert sum(sizes) == 30 and all(sizes), sizes  # spread over all three masters
    finally:
        await store.close()


async def test_cluster_node_frozen_then_back(redis_cluster: list[RedisServer]) -> None:
    store = RedisStore(f"redis://127.0.0.1:{redis_cluster[1].port}", cluster=True,
                       timeout_s=TIMEOUT, probe_interval_s=0.05)
    try:
        await until(lambda: _true(store.state() == "ok"), 10, "the cluster client to connect")
        redis_cluster[2].freeze()
        try:
            for i in range(30):
                _, wait, control = await against_control(TIMEOUT, store.get(f"lw:test:{i}"))
                assert within(wait, control), (wait, control)
            await until(lambda: _true(store.state() == "degraded"), 2, "the breaker to open")
        finally:
            redis_cluster[2].thaw()
        await until(lambda: _true(store.state() == "ok"), 10, "the cluster to be back")
        for i in range(30):
            store.put(f"lw:test:{i}", b"v", 30)
        await store.drain()
        assert sum(int(node.cli("dbsize")) for node in redis_cluster) == 30
    finally:
        await store.close()


def test_cluster_urls() -> None:
    assert split_cluster_url("redis+cluster://h:7000/0") == ("redis://h:7000/0", True)
    assert split_cluster_url("rediss+cluster://h:7000") == ("rediss://h:7000", True)
    assert split_cluster_url("redis-cluster://h:7000") == ("redis://h:7000", True)
    assert split_cluster_url("redis://h:6379/0") == ("redis://h:6379/0", False)


async def _true(value: bool) -> bool:
    return value
