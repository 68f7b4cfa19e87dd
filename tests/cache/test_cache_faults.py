from __future__ import annotations

import asyncio
import time

import pytest

from cache.faults import Breaker, bounded, wait_event


def test_breaker_opens_on_faults_within_the_window_and_only_a_reset_closes_it() -> None:
    b = Breaker(failures=3, window_s=60)
    b.failure()
    b.failure()
    assert not b.open
    b.failure()
    assert b.open and b.trips == 1
    b.failure()
    assert b.trips == 1
    b.reset()
    assert not b.open
    b.trip()
    assert b.open and b.trips == 2


def test_faults_spread_wider_than_the_window_do_not_open_it() -> None:
    now = [0.0]
    b = Breaker(failures=3, window_s=2.0, clock=lambda: now[0])
    for _ in range(10):
        b.failure()
        now[0] += 1.5  # sporadic faults: never three within two seconds
    assert not b.open
    b.failure()
    now[0] += 0.5
    b.failure()
    assert b.open


async def test_bounded_does_not_wait_for_an_operation_that_ignores_cancellation() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await release.wait()  # unwinding takes as long as the test wants

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await bounded(stubborn(), 0.02)
    assert time.monotonic() - started < 0.5
    release.set()
    assert await bounded(asyncio.sleep(0, "ok"), 1) == "ok"


async def test_wait_event_returns_on_set_or_timeout_and_leaves_nothing_behind() -> None:
    event = asyncio.Event()
    asyncio.get_running_loop().call_soon(event.set)
    await wait_event(event, 10)
    await wait_event(asyncio.Event(), 0.01)
    waiter = asyncio.ensure_future(wait_event(asyncio.Event(), 10))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(asyncio.all_tasks()) == 1  # only this test's own task
