from __future__ import annotations

import asyncio

import orjson
import pytest
from cache_samples import Upstream, assemble, chat_chunks, chat_summary, completion_body

from cache.answer import StoredAnswer
from cache.singleflight import Flight, FlightFailed, SingleFlight


async def read_all(flight: Flight, include_usage: bool | None = None) -> bytes:
    return b"".join([raw async for raw in flight.events(include_usage)])


def join(table: SingleFlight, up: Upstream, stored: list[StoredAnswer] | None = None,
         streaming: bool = True, kind: str = "chat") -> Flight:
    return table.join("k", kind=kind, streaming=streaming, model="fast", source=up.stream,
                      on_answer=stored.append if stored is not None else None)


async def test_identical_concurrent_requests_share_one_call() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a", "b", "c"]), delay=0.01)
    flights = [join(table, up, stored) for _ in range(20)]
    assert [f.leader for f in flights] == [True] + [False] * 19
    streams = await asyncio.gather(*(read_all(f) for f in flights))
    assert up.calls == 1
    assert len(set(streams)) == 1 and streams[0] == b"".join(up.chunks)
    assert len(stored) == 1 and len(table) == 0
    assert stored[0].obj()["choices"][0]["message"]["content"] == "abc"


async def test_a_late_joiner_gets_the_whole_stream_from_its_start() -> None:
    table = SingleFlight()
    up = Upstream(chat_chunks(["one ", "two ", "three"]))
    up.gate = asyncio.Event()
    leader = join(table, up)
    reading = leader.events()
    first = await anext(reading)
    late = join(table, up)
    assert not late.leader
    up.gate.set()

    async def rest_of_leader() -> bytes:
        return b"".join([raw async for raw in reading])

    whole, rest = await asyncio.gather(read_all(late), rest_of_leader())
    assert whole == b"".join(up.chunks) == first + rest
    assert up.calls == 1


async def test_other_modes_wait_for_the_answer() -> None:
    table = SingleFlight()
    up = Upstream(chat_chunks(["x", "y"]), delay=0.005)
    leader = join(table, up)
    plain = join(table, up, streaming=False)
    assert not plain.same_mode and leader.same_mode
    answer, _ = await asyncio.gather(plain.answer(), read_all(leader))
    assert chat_summary(answer.obj()) == chat_summary(assemble("chat", up.chunks) or {})
    body = orjson.dumps(completion_body("z"))
    up2 = Upstream([body[:10], body[10:]])
    leader2 = join(table, up2, streaming=False, kind="completions")
    streamer = join(table, up2, streaming=True, kind="completions")
    assert await read_all(leader2) == body
    assert (await streamer.answer()).text() == "z"


async def test_leader_disconnect_does_not_cut_followers() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a", "b"]))
    up.gate = asyncio.Event()
    leader, follower = join(table, up, stored), join(table, up, stored)
    reading = leader.events()
    assert await anext(reading) == up.chunks[0]
    reader = asyncio.create_task(anext(reading))  # waits for the next chunk...
    await asyncio.sleep(0)
    reader.cancel()  # ... when the leader's client goes away
    with pytest.raises(asyncio.CancelledError):
        await reader
    await reading.aclose()
    up.gate.set()
    assert await read_all(follower) == b"".join(up.chunks)
    assert len(stored) == 1


async def test_last_holder_leaving_cancels_the_call_and_nothing_is_stored() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a", "b"]))
    up.gate = asyncio.Event()
    a, b = join(table, up, stored), join(table, up, stored)
    reading = a.events()
    assert await anext(reading) == up.chunks[0]
    await reading.aclose()
    b.release()
    while up.closed == 0:  # the upstream call unwinds: its finally ran
        await asyncio.sleep(0)
    assert stored == [] and len(table) == 0
    c = join(table, up, stored)
    assert c.leader  # a fresh flight, not the abandoned one
    up.gate.set()
    await read_all(c)
    assert len(stored) == 1 and up.calls == 2


async def test_failure_before_the_first_byte_reaches_everyone_with_nothing_delivered() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a"]), fail_after=0)
    flights = [join(table, up, stored) for _ in range(3)]
    for f in flights:
        with pytest.raises(FlightFailed) as failed:
            await read_all(f)
        assert failed.value.delivered == 0
        assert isinstance(failed.value.cause, ConnectionResetError)
    assert stored == [] and len(table) == 0 and up.calls == 1
    plain = join(table, up, streaming=False)
    with pytest.raises(FlightFailed):
        await plain.answer()


async def test_failure_mid_stream_says_how_much_was_delivered() -> None:
    table, stored = SingleFlight(), []
    up = Upstream(chat_chunks(["a", "b"]), fail_after=2)
    flight = join(table, up, stored)
    got = []
    with pytest.raises(FlightFailed) as failed:
        async for raw in flight.events():
            got.append(raw)
    assert failed.value.delivered == len(got) == 2
    assert stored == []


async def test_an_error_event_is_relayed_but_not_stored() -> None:
    table, stored = SingleFlight(), []
    error = b'data: {"error": {"message": "model crashed", "type": "server_error"}}\n\n'
    up = Upstream([*chat_chunks(["a"])[:2], error])
    a, b = join(table, up, stored), join(table, up, stored)
    assert await read_all(a) == await read_all(b) == b"".join(up.chunks)
    assert stored == []


async def test_usage_chunk_only_for_clients_that_asked() -> None:
    table = SingleFlight()
    up = Upstream(chat_chunks(["a"]))
    a, b = join(table, up), join(table, up)
    with_usage, without = await asyncio.gather(read_all(a, True), read_all(b, False))
    assert b'"usage":{' in with_usage and b'"usage"' not in without
    assert without.endswith(b"data: [DONE]\n\n")


async def test_close_cancels_running_flights() -> None:
    table = SingleFlight()
    up = Upstream(chat_chunks(["a"]))
    up.gate = asyncio.Event()
    flight = join(table, up)
    reading = flight.events()
    await anext(reading)
    await table.close()
    assert up.closed == 1
    with pytest.raises(FlightFailed):
        await anext(reading)


async def test_non_streamed_callers_get_the_whole_body_once_it_ends() -> None:
    table, stored = SingleFlight(), []
    whole = orjson.dumps(completion_body("hello"))
    up = Upstream([whole[:10], whole[10:]], delay=0.005)
    flights = [join(table, up, stored, streaming=False, kind="completions") for _ in range(3)]
    bodies = await asyncio.gather(*(f.body() for f in flights))
    assert bodies == [whole] * 3 and up.calls == 1 and len(stored) == 1 and len(table) == 0


async def test_a_failed_non_streamed_flight_raises_for_body() -> None:
    table = SingleFlight()
    up = Upstream([b"{}"], fail_after=0)
    with pytest.raises(FlightFailed):
        await join(table, up, streaming=False, kind="completions").body()
