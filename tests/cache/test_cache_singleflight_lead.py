"""Streams led inline (`Flight.lead`): the leader reads the upstream itself until somebody
else holds the flight, then a task of the flight's own carries the call on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from cache_samples import Upstream, chat_chunks

from cache.answer import StoredAnswer
from cache.singleflight import Flight, FlightFailed, LeaderLeft, SingleFlight


class Call:
    """What the upstream open gives the leader: the first chunk, then the rest."""

    def __init__(self, up: Upstream) -> None:
        self.up, self.closed = up, 0

    async def lead(self, flight: Flight) -> AsyncIterator[bytes]:
        rest = self.up.stream()
        first = await anext(rest)
        return flight.lead(first, rest, self.close)

    def close(self) -> None:
        self.closed += 1


def join(table: SingleFlight, stored: list[StoredAnswer], streaming: bool = True) -> Flight:
    return table.join("k", kind="chat", streaming=streaming, model="fast",
                      on_answer=stored.append)


async def read(events: AsyncIterator[bytes]) -> bytes:
    return b"".join([raw async for raw in events])


async def test_a_lone_stream_is_relayed_recorded_and_stored_without_a_task() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a", "b", "c"]))
    tasks = asyncio.all_tasks()
    leader = join(table, stored)
    assert leader.inline
    events = await Call(up).lead(leader)
    assert await read(events) == b"".join(up.chunks)
    assert asyncio.all_tasks() == tasks
    assert len(stored) == 1 and stored[0].obj()["choices"][0]["message"]["content"] == "abc"
    assert len(table) == 0 and up.calls == 1


async def test_a_follower_mid_stream_gets_the_whole_stream_from_one_call() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["one ", "two ", "three"]))
    up.gate = asyncio.Event()
    leader = join(table, stored)
    events = await Call(up).lead(leader)
    first = await anext(events)
    late, plain = join(table, stored), join(table, stored, streaming=False)
    assert not late.leader and not late.inline
    up.gate.set()
    rest, whole, answer = await asyncio.gather(read(events), read(late.events()), plain.answer())
    assert first + rest == whole == b"".join(up.chunks)
    assert answer.obj()["choices"][0]["message"]["content"] == "one two three"
    assert up.calls == 1 and len(stored) == 1 and len(table) == 0


async def test_a_leader_leaving_between_chunks_hands_the_call_to_its_follower() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a", "b"]))
    up.gate = asyncio.Event()
    call, leader = Call(up), join(table, stored)
    events = await call.lead(leader)
    await anext(events)
    follower = join(table, stored)
    await events.aclose()  # the leader's client goes away
    up.gate.set()
    assert await read(follower.events()) == b"".join(up.chunks)
    assert up.calls == 1 and len(stored) == 1 and call.closed == 1


class Held(Upstream):
    """An upstream that, after its first chunk, says when it waits, then fails or goes on."""

    def __init__(self, chunks: list[bytes], fail: bool = False) -> None:
        super().__init__(chunks)
        self.waiting, self.go, self.fail = asyncio.Event(), asyncio.Event(), fail

    async def stream(self) -> AsyncIterator[bytes]:
        self.calls += 1
        try:
            yield self.chunks[0]
            self.waiting.set()
            await self.go.wait()
            if self.fail:
                raise ConnectionResetError("upstream went away")
            for chunk in self.chunks[1:]:
                yield chunk
        finally:
            self.closed += 1


async def test_a_leader_cancelled_during_its_call_sends_followers_to_start_again() -> None:
    table, stored = SingleFlight(), []
    up = Held(chat_chunks(["a", "b"]))
    call, leader = Call(up), join(table, stored)
    events = await call.lead(leader)
    await anext(events)
    waiting = asyncio.ensure_future(anext(events))  # the leader waits for the next chunk
    await up.waiting.wait()
    follower = join(table, stored)
    following = asyncio.ensure_future(read(follower.events()))
    waiting.cancel()  # the leader's client leaves while the upstream is being read
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(FlightFailed) as failed:
        await following
    assert isinstance(failed.value.cause, LeaderLeft) and failed.value.delivered == 0
    assert stored == [] and len(table) == 0 and up.closed == 1 and call.closed == 1
    assert join(table, stored).leader  # the follower leads a fresh call


async def test_a_failure_before_the_hand_over_reaches_followers_with_nothing_delivered(
) -> None:
    table, stored = SingleFlight(), []
    up = Held(chat_chunks(["a", "b"]), fail=True)
    leader = join(table, stored)
    events = await Call(up).lead(leader)
    await anext(events)
    waiting = asyncio.ensure_future(anext(events))
    await up.waiting.wait()
    follower = join(table, stored)
    following = asyncio.ensure_future(read(follower.events()))
    up.go.set()
    with pytest.raises(ConnectionResetError):  # the leader's own failure
        await waiting
    with pytest.raises(FlightFailed) as failed:
        await following
    assert isinstance(failed.value.cause, ConnectionResetError)
    assert failed.value.delivered == 0  # so it may fall back to another model
    assert stored == [] and len(table) == 0


async def test_an_unfinished_stream_is_relayed_but_not_stored() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a"], done=False, finish=""))
    events = await Call(up).lead(join(table, stored))
    assert await read(events) == b"".join(up.chunks)
    assert stored == [] and len(table) == 0
