"""guarded: a request whose client left is cancelled; answered ones never start a watcher."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from recorder_kit import context, runtime

from router.stages.supersede import ClientGone, Sessions, guarded


class _Client:
    """The receive side of a request: says when it is first asked, then reports a hang-up."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        self.asked.set()
        return {"type": "http.disconnect"}


def test_a_client_that_left_cancels_the_waiting_pipeline() -> None:
    async def scenario() -> None:
        client, sessions = _Client(), Sessions()
        upstream = asyncio.get_running_loop().create_future()  # never answers
        ctx = context(runtime())
        with pytest.raises(ClientGone):
            await asyncio.wait_for(guarded(client, ctx, upstream, sessions), 5)  # type: ignore[arg-type]
        assert upstream.cancelled()

    asyncio.run(scenario())


def test_requests_answered_at_once_never_ask_the_client() -> None:
    async def scenario() -> None:
        answered, waiting, sessions = _Client(), _Client(), Sessions()

        async def answer() -> str:
            return "ok"

        rt = runtime()
        for _ in range(50):
            assert await guarded(answered, context(rt), answer(), sessions) == "ok"  # type: ignore[arg-type]
        # A request still waiting gets its watcher after WATCH_AFTER_S; by the time it is
        # cancelled, the answered ones would have been asked too, had they been watched.
        upstream = asyncio.get_running_loop().create_future()
        with pytest.raises(ClientGone):
            await asyncio.wait_for(guarded(waiting, context(rt), upstream, sessions), 5)  # type: ignore[arg-type]
        assert waiting.asked.is_set() and not answered.asked.is_set()

    asyncio.run(scenario())
