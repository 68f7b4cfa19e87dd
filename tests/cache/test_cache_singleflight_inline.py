"""Flights led inline: the leader makes the upstream call in its own task."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from cache_samples import completion_body

from cache.answer import StoredAnswer
from cache.singleflight import Flight, FlightFailed, LeaderLeft, SingleFlight

WHOLE = orjson.dumps(completion_body("hello"))


def join(table: SingleFlight, stored: list[StoredAnswer] | None = None,
         streaming: bool = False) -> Flight:
    return table.join("k", kind="completions", streaming=streaming, model="fast",
                      on_answer=stored.append if stored is not None else None)


async def test_a_lone_leader_makes_the_call_itself_and_stores_its_answer() -> None:
    table, stored = SingleFlight(), []
    tasks = asyncio.all_tasks()
    leader = join(table, stored)
    assert leader.leader and leader.inline
    assert asyncio.all_tasks() == tasks  # no task of the flight's own
    leader.finish(WHOLE)
    assert len(stored) == 1 and stored[0].text() == "hello"
    assert len(table) == 0  # stored and gone in one step: the next request hits L1


async def test_requests_arriving_during_the_call_share_it() -> None:
    table, stored = SingleFlight(), []
    leader = join(table, stored)
    plain = [join(table, stored) for _ in range(3)]
    streamer = join(table, stored, streaming=True)
    assert not any(f.leader or f.inline for f in [*plain, streamer])
    assert not streamer.same_mode
    waiting = asyncio.gather(*(f.body() for f in plain), streamer.answer())
    leader.finish(WHOLE)  # the upstream answered
    *bodies, answer = await waiting
    assert bodies == [WHOLE] * 3 and answer.text() == "hello"
    assert len(stored) == 1 and len(table) == 0
    assert join(table, stored).leader  # a finished flight takes nobody in


async def test_an_error_body_reaches_the_followers_but_is_not_stored() -> None:
    table, stored = SingleFlight(), []
    error = b'{"error": {"message": "overloaded", "type": "server_error"}}'
    leader, follower = join(table, stored), join(table, stored)
    leader.finish(error)
    assert await follower.body() == error
    assert stored == [] and len(table) == 0


async def test_a_failed_call_fails_the_followers_with_nothing_delivered() -> None:
    table, stored = SingleFlight(), []
    leader, plain, streamer = join(table, stored), join(table, stored), join(table, stored, True)
    cause = ConnectionResetError("upstream went away")
    leader.fail(cause)
    for waiting in (plain.body(), streamer.answer()):
        with pytest.raises(FlightFailed) as failed:
            await waiting
        assert failed.value.cause is cause and failed.value.delivered == 0
    assert stored == [] and len(table) == 0


async def test_a_leader_that_leaves_sends_its_followers_to_start_again() -> None:
    table, stored = SingleFlight(), []
    leader, follower = join(table, stored), join(table, stored)
    waiting = asyncio.ensure_future(follower.body())
    leader.release()  # its client left: the call it was making is gone with it
    with pytest.raises(FlightFailed) as failed:
        await waiting
    assert isinstance(failed.value.cause, LeaderLeft) and failed.value.delivered == 0
    again = join(table, stored)
    assert again.leader and again.inline  # the follower leads a fresh call
    again.finish(WHOLE)
    assert len(stored) == 1


async def test_a_follower_leaving_does_not_end_the_call() -> None:
    table, stored = SingleFlight(), []
    leader, gone, staying = join(table, stored), join(table, stored), join(table, stored)
    gone.release()
    waiting = asyncio.ensure_future(staying.body())
    leader.finish(WHOLE)
    assert await waiting == WHOLE and len(stored) == 1
