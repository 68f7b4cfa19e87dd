"""Timing assertions that hold on a loaded machine.

"No request waits much longer than the timeout" is checked against a control: a plain
`asyncio.sleep(timeout)` started alongside the requests. Whatever CPU contention delays the
requests delays the control too, so the comparison measures laneway, not the machine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
MARGIN = 0.03  # beyond what the control itself took


async def _timed(aw: Awaitable[T]) -> tuple[T, float]:
    started = time.monotonic()
    value = await aw
    return value, time.monotonic() - started


async def against_control(timeout: float, *aws: Awaitable[T]) -> tuple[list[T], float, float]:
    """(results, the slowest request's wait, the control's wait)."""
    control = asyncio.ensure_future(_timed(asyncio.sleep(timeout)))
    results = await asyncio.gather(*(_timed(aw) for aw in aws))
    _, control_took = await control
    return [v for v, _ in results], max(t for _, t in results), control_took


def within(wait: float, control: float) -> bool:
    return wait <= control + MARGIN
