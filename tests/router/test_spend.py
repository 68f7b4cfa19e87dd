"""The spend ledger: budgets held across replicas on a real Redis, and without one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from procs import RedisServer, free_port, start_cluster, wait_until

from policies.choose import Candidate, Needs
from policies.lanes import Endpoint
from router.config import parse
from router.context import RequestContext
from router.errors import InsufficientQuota, ServiceUnavailable
from router.frontends.openai import CHAT
from router.limits.budget import period_bounds
from router.limits.spend import Ledger
from router.observe.metrics import Metrics

CONFIG = parse({
    "server": {"api_keys": [
        {"key": "sk-a", "team": "tight", "budget": {"usd": 1, "period": "day"}},
        {"key": "sk-b", "team": "roomy", "budget": {"usd": 100, "period": "month"}},
        {"key": "sk-c", "team": "free"},
    ]},
    # $0.30 for 1,000 tokens in and 1,000 out.
    "models": [{"name": "m", "api_base": "http://up/v1",
                "price_per_mtok": {"input": 100, "output": 200}}],
})
CANDIDATES = [Candidate(CONFIG.by_name["m"], None, 0.0, True, True, ())]
NEEDS = Needs(input_tokens=1000, output_tokens=1000)


def ctx(team: str) -> RequestContext:
    return RequestContext(request_id="r", endpoint=Endpoint.CHAT, body={}, headers={},
                          tenant=team, started=time.perf_counter(), frontend=CHAT)


async def reserve(ledger: Ledger, team: str) -> RequestContext | InsufficientQuota:
    c = ctx(team)
    try:
        await ledger.reserve(c, CANDIDATES, NEEDS, None)
    except InsufficientQuota as exc:
        return exc
    return c


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


@pytest.fixture
async def replicas(redis: RedisServer) -> AsyncIterator[tuple[Ledger, Ledger]]:
    pair = (Ledger(CONFIG.teams, Metrics(), redis.url, timeout_s=1),
            Ledger(CONFIG.teams, Metrics(), redis.url, timeout_s=1))
    yield pair
    for ledger in pair:
        await ledger.close()


async def settled(ledger: Ledger) -> None:
    assert ledger.shared is not None
    await ledger.shared.drain(10)  # bounded by the settlements' own deadlines


async def test_concurrent_requests_overshoot_by_at_most_what_is_in_flight(replicas):
    a, b = replicas
    first = await asyncio.gather(*(reserve(r, "tight") for r in (a, b) for _ in range(5)))
    admitted = [c for c in first if isinstance(c, RequestContext)]
    # Held 0.30 each: admitted while spent + held < $1, i.e. four, whichever replica.
    assert len(admitted) == 4
    held = [r for r in first if isinstance(r, InsufficientQuota)]
    # Refused while the budget is held, not spent: worth retrying as soon as they finish.
    assert held[0].headers["retry-after"] == "1" and "in flight" in held[0].message
    for c in admitted:
        (a if admitted.index(c) % 2 else b).settle(c, 0.25, 0.5)
    await settled(a)
    await settled(b)
    refused = await reserve(a, "tight")
    assert isinstance(refused, InsufficientQuota)
    assert refused.status == 429 and refused.type == refused.code == "insufficient_quota"
    retry = int(refused.headers["retry-after"])  # spent: until the day ends (UTC)
    assert abs(retry - (period_bounds("day", time.time())[1] - time.time())) <= 2
    assert isinstance(await reserve(b, "roomy"), RequestContext)  # another team: unaffected
    [row] = await b.report(["tight"])
    assert row == {"team": "tight", "period": "day", "spent_usd": 1.0, "budget_usd": 1.0,
                   "remaining_usd": 0.0, "requests": 4, "saved_usd": 2.0}
    text = a.metrics.exposition().decode()
    assert 'laneway_budget_remaining_usd{team="tight"} 0.0' in text
    assert 'laneway_spend_usd_total{team="tight"}' in text


async def test_a_hold_never_settled_expires_instead_of_blocking_the_team(replicas):
    a, b = replicas
    assert a.shared is not None
    a.shared.hold_ms = 300  # a replica that died mid-request never settles its holds
    held = [c for c in await asyncio.gather(*(reserve(a, "tight") for _ in range(4)))
            if isinstance(c, RequestContext)]
    assert len(held) == 4 and isinstance(await reserve(b, "tight"), InsufficientQuota)

    def admitted_again() -> bool:
        return isinstance(asyncio.run_coroutine_threadsafe(
            reserve(b, "tight"), loop).result(), RequestContext)

    loop = asyncio.get_running_loop()
    await asyncio.to_thread(wait_until, admitted_again, 5, "expired holds to be released")


async def test_teams_without_a_budget_are_reported_and_never_refused(replicas):
    a, _ = replicas
    for _ in range(3):
        c = await reserve(a, "free")
        assert isinstance(c, RequestContext) and c.hold is None  # nothing to hold
        a.settle(c, 0.5, 0.0)
    await settled(a)
    [row] = await a.report(["free"])
    assert (row["spent_usd"], row["requests"], row["budget_usd"], row["remaining_usd"]) == (
        1.5, 3, None, None)


async def test_redis_down_fails_open_by_default_and_counts_it():
    url = f"redis://127.0.0.1:{free_port()}/0"
    ledger = Ledger(CONFIG.teams, Metrics(), url, timeout_s=0.2)
    assert isinstance(await reserve(ledger, "tight"), RequestContext)
    text = ledger.metrics.exposition().decode()
    assert ('laneway_budget_check_failures_total{action="admitted",team="tight"} 1.0'
            in text)
    closed = Ledger(CONFIG.teams, Metrics(), url, timeout_s=0.2, fail="closed")
    with pytest.raises(ServiceUnavailable) as refused:
        await closed.reserve(ctx("tight"), CANDIDATES, NEEDS, None)
    assert refused.value.status == 503 and refused.value.headers["retry-after"] == "1"
    await ledger.close()
    await closed.close()


async def test_spend_redis_could_not_take_is_sent_once_it_is_back(tmp_path: Path):
    server = RedisServer(tmp_path)
    ledger = Ledger(CONFIG.teams, Metrics(), server.url, timeout_s=0.5)
    try:
        c = await reserve(ledger, "roomy")
        assert isinstance(c, RequestContext)
        server.freeze()
        frozen = await reserve(ledger, "roomy")  # no answer in time: budget_fail open admits
        assert isinstance(frozen, RequestContext) and frozen.hold is not None
        assert frozen.hold.member == ""  # nothing held: nothing to release
        ledger.settle(c, 0.75, 0.0)
        await settled(ledger)  # failed: kept for later
        server.thaw()
        assert ledger.shared is not None
        await asyncio.to_thread(wait_until, lambda: ledger.shared.up, 5, "the retry pause")
        c2 = await reserve(ledger, "roomy")
        assert isinstance(c2, RequestContext)
        ledger.settle(c2, 0.25, 0.0)
        await settled(ledger)
        [row] = await ledger.report(["roomy"])
        assert row["spent_usd"] == 1.0 and row["requests"] == 2
        # The reservation that timed out ran once Redis woke up; its hold was released.
        bucket = "laneway:spend:{roomy}:" + period_bounds("month", time.time())[0]
        assert server.cli("ZCARD", bucket + ":holds") == "0"
        assert float(server.cli("HGET", bucket, "held")) == 0
    finally:
        server.kill()
        await ledger.close()


async def test_without_redis_each_process_keeps_its_own_ledger():
    ledger = Ledger(CONFIG.teams, Metrics())
    results = await asyncio.gather(*(reserve(ledger, "tight") for _ in range(6)))
    admitted = [c for c in results if isinstance(c, RequestContext)]
    assert len(admitted) == 4
    held = [r for r in results if isinstance(r, InsufficientQuota)]
    # Refused while the budget is held, not spent: worth retrying as soon as they finish.
    assert held[0].headers["retry-after"] == "1" and "in flight" in held[0].message
    for c in admitted:
        ledger.settle(c, 0.3, 0.0)
    assert isinstance(await reserve(ledger, "tight"), InsufficientQuota)
    [row] = await ledger.report(["tight"])
    assert row["spent_usd"] == pytest.approx(1.2) and row["remaining_usd"] == 0.0


async def test_a_restarted_redis_gets_its_scripts_again(tmp_path: Path):
    server = RedisServer(tmp_path)
    ledger = Ledger(CONFIG.teams, Metrics(), server.url, timeout_s=1)
    try:
        assert isinstance(await reserve(ledger, "roomy"), RequestContext)
        server.kill()
        server.start()  # empty: no scripts, no spend
        assert ledger.shared is not None

        def admitted() -> bool:
            c = asyncio.run_coroutine_threadsafe(reserve(ledger, "roomy"), loop).result()
            return isinstance(c, RequestContext) and c.hold is not None and c.hold.member != ""

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(wait_until, admitted, 5, "a hold on the new Redis")
        assert server.cli("--scan", "--pattern", "laneway:spend:*")  # held there
    finally:
        server.kill()
        await ledger.close()


async def test_a_long_outage_folds_what_waits_and_loses_nothing(tmp_path: Path, monkeypatch):
    from router.limits import spend_redis

    monkeypatch.setattr(spend_redis, "MAX_UNSENT", 10)
    port = free_port()
    ledger = Ledger(CONFIG.teams, Metrics(), f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
    assert ledger.shared is not None
    try:
        for _ in range(40):  # Redis is not there: nothing reaches it
            ledger.settle(ctx("free"), 0.25, 0.5)
        await settled(ledger)
        assert len(ledger.shared._unsent) <= 10
        with RedisServer(tmp_path, port=port):
            await asyncio.to_thread(wait_until, lambda: ledger.shared.up, 5, "the retry pause")
            ledger.settle(ctx("free"), 0.25, 0.5)
            await settled(ledger)
            [row] = await ledger.report(["free"])
            assert (row["spent_usd"], row["requests"], row["saved_usd"]) == (10.25, 41, 20.5)
    finally:
        await ledger.close()


async def test_a_redis_cluster_holds_and_reports_too(tmp_path: Path):
    nodes = start_cluster(tmp_path)
    ledger = Ledger(CONFIG.teams, Metrics(), f"redis+cluster://127.0.0.1:{nodes[0].port}/0",
                    timeout_s=1)
    try:
        await settled(ledger)  # connected, scripts loaded
        for n in nodes:
            n.cli("SCRIPT", "FLUSH")  # as after a failover: the scripts are loaded again
        got = [await reserve(ledger, team) for team in ("tight", "roomy", "tight")]
        assert all(isinstance(c, RequestContext) for c in got)
        for c in got:
            assert isinstance(c, RequestContext)
            ledger.settle(c, 0.1, 0.0)
        await settled(ledger)
        rows = {r["team"]: r for r in await ledger.report(["tight", "roomy"])}
        assert (rows["tight"]["spent_usd"], rows["tight"]["requests"]) == (0.2, 2)
        assert (rows["roomy"]["spent_usd"], rows["roomy"]["requests"]) == (0.1, 1)
    finally:
        await ledger.close()
        for n in nodes:
            n.kill()
