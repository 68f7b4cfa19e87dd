"""The feedback store, in process and on a real redis-server: events count once per id and
kind, unknown ids and other tenants' answers change nothing, two replicas sharing a Redis
count exactly, and a restart keeps the counts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from procs import RedisServer

from cache.feedback import Answer, FeedbackStore, MemoryFeedback
from cache.feedback_redis import RedisFeedback

SMALL = Answer("team-a", "completion", "fast-coder", "small", "completion-model", "alice", 0.0002)
PLAIN = Answer("team-a", "completion", "fast-coder")


@pytest.fixture(params=["memory", "redis"])
async def make_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[[], FeedbackStore]]:
    """A factory: every call is another replica of the same store."""
    made: list[FeedbackStore] = []
    if request.param == "memory":
        shared = MemoryFeedback()
        yield lambda: shared
        return
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        def replica() -> FeedbackStore:
            store = RedisFeedback(server.url)
            made.append(store)
            return store

        yield replica
        for store in made:
            await store.close()


async def test_events_count_once_per_id_and_kind(make_store: Callable[[], FeedbackStore]):
    store = make_store()
    await store.register("c1", SMALL)
    first = await store.event("c1", "team-a", "shown")
    assert first is not None and first.kinds == ("shown",) and first.answer.arm == "small"
    assert await store.event("c1", "team-a", "shown") is None
    counted = await store.event("c1", "team-a", "accepted", "implicit")
    assert counted is not None and counted.kinds == ("accepted",)
    assert await store.event("c1", "team-a", "accepted", "event") is None
    totals = await store.totals()
    c = totals[("completion", "fast-coder", "small")]
    assert (c.shown, c.accepted, c.dismissed, c.by_source) == (1, 1, 0, {"implicit": 1})
    arms = await store.arms("completion-model")
    assert arms["small"].shown == 1 and arms["small"].accepted == 1 and arms["small"].units == 1
    assert arms["small"].cost_usd == pytest.approx(0.0002)


async def test_a_select_without_a_view_counts_as_shown_too(make_store):  # type: ignore[no-untyped-def]
    store = make_store()
    await store.register("c2", PLAIN)
    counted = await store.event("c2", "team-a", "accepted")
    assert counted is not None and counted.kinds == ("shown", "accepted")
    dismissed = await store.event("c2", "team-a", "dismissed")
    assert dismissed is not None and dismissed.kinds == ("dismissed",)
    c = (await store.totals())[("completion", "fast-coder", "none")]
    assert (c.shown, c.accepted, c.dismissed) == (1, 1, 1)


async def test_unknown_ids_and_other_tenants_answers_are_ignored(make_store):  # type: ignore[no-untyped-def]
    store = make_store()
    await store.register("c3", PLAIN)
    assert await store.event("nope", "team-a", "accepted") is None
    assert await store.event("c3", "team-b", "accepted") is None
    assert await store.event("c3", "team-a", "bogus") is None
    assert await store.totals() == {}
    assert await store.event("c3", "team-a", "accepted") is not None  # its own tenant still can


async def test_two_replicas_count_exactly_and_decide_once(make_store):  # type: ignore[no-untyped-def]
    one, two = make_store(), make_store()
    ids = [f"id-{i}" for i in range(200)]
    await asyncio.gather(*(one.register(i, SMALL) for i in ids[:100]),
                         *(two.register(i, SMALL) for i in ids[100:]))
    # every event sent twice, to both replicas at once, in any order
    events = [(r, i, kind) for i in ids for kind in ("shown", "accepted") for r in (one, two)]
    events += [(r, i, "dismissed") for i in ids[::2] for r in (two, one)]
    await asyncio.gather(*(r.event(i, "team-a", kind) for r, i, kind in events))
    for replica in (one, two):
        c = (await replica.totals())[("completion", "fast-coder", "small")]
        assert (c.shown, c.accepted, c.dismissed) == (200, 200, 100)
        assert (await replica.arms("completion-model"))["small"].shown == 200
    assert await one.decide("completion-model", "small") == "small"
    assert await two.decide("completion-model", "mid") == "small"
    assert await two.winner("completion-model") == "small"


async def test_a_restart_keeps_the_counts_in_redis(tmp_path):  # type: ignore[no-untyped-def]
    with RedisServer(tmp_path) as server:
        before = RedisFeedback(server.url)
        await before.register("c9", SMALL)
        await before.event("c9", "team-a", "accepted")
        await before.close()
        after = RedisFeedback(server.url)  # a new process on the same Redis
        try:
            c = (await after.totals())[("completion", "fast-coder", "small")]
            assert (c.shown, c.accepted) == (1, 1)
            assert await after.event("c9", "team-a", "accepted") is None  # still idempotent
        finally:
            await after.close()


async def test_a_batch_applies_in_order_in_one_call(make_store):  # type: ignore[no-untyped-def]
    store = make_store()
    other = Answer("team-b", "qa", "mid-chat")
    results = await store.apply([
        ("event", "b1", "team-a", "accepted", "event"),  # before its registration: nothing
        ("register", "b1", SMALL),
        ("register", "b2", other),
        ("event", "b1", "team-a", "accepted", "implicit"),
        ("event", "b1", "team-a", "accepted", "event"),  # counted already
        ("event", "b2", "team-a", "dismissed", "event"),  # another tenant's answer
        ("event", "b2", "team-b", "dismissed", "event"),
    ])
    assert results[0] is None and results[4] is None and results[5] is None
    assert [r.kinds for r in (results[1], results[2], results[3], results[6])] == [  # type: ignore[union-attr]
        ("shown",), ("shown",), ("accepted",), ("dismissed",)]
    assert results[6].answer.lane == "qa" and results[6].answer.tenant == "team-b"  # type: ignore[union-attr]
    totals = await store.totals()
    assert totals[("qa", "mid-chat", "none")].dismissed == 1
    assert totals[("completion", "fast-coder", "small")].by_source == {"implicit": 1}
