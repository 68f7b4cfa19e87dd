"""Fault-handling primitives for the Redis store: a breaker and waits that stay bounded."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Breaker:
    """`failures` faults within `window_s` open it — consecutive or not, so that one frozen
    node of a cluster (a third of the keys) trips it as surely as a frozen single Redis.
    Only a successful probe closes it (`reset`)."""

    __slots__ = ("_clock", "_faults", "failures", "open", "trips", "window_s")

    def __init__(
        self, failures: int = 3, window_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.failures = failures
        self.window_s = window_s
        self._faults: deque[float] = deque(maxlen=failures)
        self.open = False
        self.trips = 0

    def failure(self) -> None:
        now = self._clock()
        self._faults.append(now)
        if (
            not self.open
            and len(self._faults) >= self.failures
            and now - self._faults[0] <= self.window_s
        ):
            self.open = True
            self.trips += 1

    def trip(self) -> None:
        if not self.open:
            self.open = True
            self.trips += 1

    def reset(self) -> None:
        self._faults.clear()
        self.open = False


async def bounded(op: Awaitable[T], timeout_s: float) -> T:
    """`op`, or TimeoutError after `timeout_s` — without waiting for `op` to unwind: it runs
    in its own task, cancelled and left to finish on its own (a frozen socket cannot hold
    the caller)."""
    task = asyncio.ensure_future(op)
    try:
        done, _ = await asyncio.wait((task,), timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        task.add_done_callback(_consume)
        raise
    if not done:
        # Do not wait for the client to unwind (it may be stuck on a frozen socket).
        task.cancel()
        task.add_done_callback(_consume)
        raise TimeoutError(f"no answer within {timeout_s * 1000:.0f} ms")
    return task.result()


async def wait_event(event: asyncio.Event, timeout_s: float) -> None:
    """Until `event` is set or `timeout_s` passed. Not `wait_for`: on Python 3.11 a wait_for
    cancelled just as it times out can wait forever for its inner task (close() hung so)."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait((waiter,), timeout=timeout_s)
    finally:
        waiter.cancel()


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()

