"""Rate limits per key: atomic in a shared Redis across replicas; per process without it."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import ENV, KEY_A, KEY_B, auth, laneway_config
from procs import Proc, RedisServer, free_port, start_laneway

from router.errors import RateLimited
from router.limits.ratelimit import Limit, Limiter, LocalBuckets

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "Name a sorting algorithm."}]}


def tenant() -> str:
    return "t-" + secrets.token_hex(6)  # a fresh tenant: no state from other tests


async def admitted(limiter: Limiter, who: str, n: int) -> list[BaseException | None]:
    async def one() -> BaseException | None:
        try:
            await limiter.admit(who)
        except RateLimited as exc:
            return exc
        return None

    return list(await asyncio.gather(*(one() for _ in range(n))))


@pytest.fixture
async def shared(redis_server: RedisServer) -> AsyncIterator[tuple[Limiter, Limiter]]:
    """Two limiters on one Redis, as two replicas would be."""
    pair = (Limiter(Limit(requests_per_minute=5), {}, redis_server.url, timeout_s=1),
            Limiter(Limit(requests_per_minute=5), {}, redis_server.url, timeout_s=1))
    yield pair
    for limiter in pair:
        await limiter.close()


async def test_a_burst_across_replicas_admits_exactly_the_limit(shared):
    who = tenant()
    a, b = shared
    results = await asyncio.gather(admitted(a, who, 10), admitted(b, who, 10))
    refusals = [r for rs in results for r in rs if r is not None]
    assert len(refusals) == 15
    retry = refusals[0].headers["retry-after"]
    assert refusals[0].status == 429 and 1 <= int(retry) <= 12  # one slot frees every 12 s
    assert a.local._req == {} and b.local._req == {}  # Redis answered: no fallback used


async def test_tokens_are_charged_after_the_answer_and_then_refuse(redis_server):
    limiter = Limiter(Limit(tokens_per_minute=1000), {}, redis_server.url)
    who, other = tenant(), tenant()
    await limiter.admit(who)
    limiter.charge(who, 1500)  # one big answer: the tenant owes half a minute
    await asyncio.wait_for(asyncio.shield(limiter.shared._flusher), 1)  # the charge is sent
    [refused] = await admitted(limiter, who, 1)
    assert isinstance(refused, RateLimited) and 25 <= int(refused.headers["retry-after"]) <= 31
    assert await admitted(limiter, other, 1) == [None]
    await limiter.close()


async def test_without_redis_limits_hold_per_process_and_fail_fast(caplog):
    limiter = Limiter(Limit(requests_per_minute=3), {}, f"redis://127.0.0.1:{free_port()}/0")
    who = tenant()
    began = time.monotonic()
    results = await admitted(limiter, who, 8)
    assert sum(r is None for r in results) == 3
    assert time.monotonic() - began < 0.5  # one failed try, then per-process at once
    assert sum("Redis unavailable" in r.message for r in caplog.records) == 1
    await limiter.close()


async def test_a_frozen_redis_costs_one_timeout_then_fails_over(tmp_path: Path):
    server = RedisServer(tmp_path)
    limiter = Limiter(Limit(requests_per_minute=100), {}, server.url, timeout_s=0.05)
    try:
        await limiter.admit("warm")  # connection made while Redis is up
        server.freeze()
        began = time.monotonic()
        await limiter.admit(tenant())
        assert time.monotonic() - began < 0.3
    finally:
        server.kill()
        await limiter.close()


def test_local_buckets_refill_at_the_rate():
    b, lim = LocalBuckets(), Limit(requests_per_minute=60)
    assert all(b.admit("t", lim, 100.0) == 0 for _ in range(60))
    assert b.admit("t", lim, 100.0) == pytest.approx(1.0)
    assert b.admit("t", lim, 101.0) == 0  # one per second comes back


def test_inactive_limiter_never_touches_redis():
    limiter = Limiter(Limit(), {}, "redis://127.0.0.1:1/0")
    assert not limiter.active and limiter.shared is None


# -- end to end: two laneway replicas on one Redis --------------------------------------------

@pytest.fixture
def replicas(sec_fleet: Proc, tmp_path: Path) -> Iterator[tuple[Proc, Proc, RedisServer]]:
    redis = RedisServer(tmp_path)
    config = laneway_config(tmp_path, sec_fleet, limits={
        "requests_per_minute": 5,
        "keys": {KEY_B: {"requests_per_minute": 8}},
    })
    # A generous bound: on a loaded CI machine event-loop lag alone can pass 50 ms, and a
    # fallback to per-process buckets is exactly what this test must not see.
    config["redis"] = {"url": redis.url, "timeout_ms": 1000}
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(start_laneway, tmp_path, config, env=ENV) for _ in range(2)]
        procs = [s.result() for s in started]
    yield procs[0], procs[1], redis
    for p in procs:
        p.stop()
    redis.kill()


async def burst(urls: list[str], key: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(
            client.post(urls[i % len(urls)] + "/v1/chat/completions", json=CHAT,
                        headers=auth(key)) for i in range(n)
        )))


async def test_limits_hold_across_two_replicas_then_per_process_without_redis(replicas):
    one, two, redis = replicas
    answers = await burst([one.url, two.url], KEY_A, 20)
    ok = [r for r in answers if r.status_code == 200]
    limited = [r for r in answers if r.status_code == 429]
    assert len(ok) == 5 and len(limited) == 15, [r.status_code for r in answers]
    err = limited[0].json()["error"]
    assert err["type"] == "rate_limit_error" and int(limited[0].headers["retry-after"]) >= 1
    # A key's override applies to that key only.
    answers = await burst([one.url, two.url], KEY_B, 12)
    assert sum(r.status_code == 200 for r in answers) == 8
    # Redis gone: each replica falls back to its own buckets (documented: N replicas, N x).
    redis.kill()
    answers = await burst([one.url], KEY_A, 8)
    assert sum(r.status_code == 200 for r in answers) <= 5
    assert sum(r.status_code == 429 for r in answers) >= 3


async def test_shared_limits_resume_after_a_redis_restart_that_lost_the_scripts(
    redis_server: RedisServer,
) -> None:
    limiter = Limiter(Limit(requests_per_minute=1000), {}, redis_server.url, timeout_s=1)
    who = tenant()
    key = f"laneway:rl:{{{who}}}:req"
    try:
        await limiter.admit(who)
        assert redis_server.cli("exists", key) == "1"
        redis_server.kill()
        redis_server.start()  # empty: no counters, no scripts
        async with asyncio.timeout(10):  # per process for a second, then Redis again
            while redis_server.cli("exists", key) != "1":
                await limiter.admit(who)
                await asyncio.sleep(0.05)  # polling a condition, not waiting for a time
        await limiter.admit(who)
        stats = redis_server.cli("info", "commandstats")
        assert "cmdstat_eval:calls=1," in stats  # the script sent in full once, on NOSCRIPT
        assert "cmdstat_evalsha:calls=" in stats
    finally:
        await limiter.close()


def test_explain_counts_against_the_same_limit(sec_fleet: Proc, tmp_path: Path):
    config = laneway_config(tmp_path, sec_fleet, limits={"requests_per_minute": 3})
    with start_laneway(tmp_path, config, env=ENV) as proc, httpx.Client(timeout=30) as c:
        statuses = [c.post(proc.url + "/laneway/explain", json={"body": CHAT},
                           headers=auth()).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        # The explains used the key's minute: a real request is refused too.
        r = c.post(proc.url + "/v1/chat/completions", json=CHAT, headers=auth())
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
