"""A client that goes away is logged `cancelled` promptly (what proxy tests rely on)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from fleet.profiles import FleetSettings
from fleet.server import build_app, start

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello"}]}


@asynccontextmanager
async def fleet_with_cancellation() -> AsyncIterator[str]:
    async with await start(FleetSettings(zero_latency=True)) as fleet:
        yield fleet.root


@asynccontextmanager
async def fleet_plain_runner() -> AsyncIterator[str]:
    # Someone else's runner, without handler_cancellation: the fleet must still notice.
    runner = web.AppRunner(build_app(FleetSettings(zero_latency=True)), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


Starter = Callable[[], AbstractAsyncContextManager[str]]
STARTERS = [pytest.param(fleet_with_cancellation, id="start"),
            pytest.param(fleet_plain_runner, id="plain-runner")]


async def _log(http: aiohttp.ClientSession, root: str, query: str) -> dict[str, Any]:
    async with http.get(f"{root}/fleet/requests?{query}") as resp:
        result: dict[str, Any] = await resp.json()
        return result


async def _assert_cancelled_within_a_second(http: aiohttp.ClientSession, root: str,
                                            gone_at: float) -> None:
    log = await _log(http, root, "state=cancelled&wait=2")
    elapsed = asyncio.get_running_loop().time() - gone_at
    assert log["count"] == 1, log
    assert elapsed < 1.0
    assert log["requests"][0]["finished_at"] is not None


@pytest.mark.parametrize("starter", STARTERS)
async def test_hang_then_disconnect_is_cancelled(
    starter: Starter, http: aiohttp.ClientSession
) -> None:
    async with starter() as root:
        headers = {"x-fleet-fault": "hang"}
        call = asyncio.create_task(
            http.post(f"{root}/v1/chat/completions", json=CHAT, headers=headers)
        )
        pending = await _log(http, root, "state=pending&wait=2")
        assert pending["count"] == 1 and pending["requests"][0]["fault"] == {"hang": True}
        call.cancel()  # drops the connection, like an editor aborting a completion
        with pytest.raises(asyncio.CancelledError):
            await call
        await _assert_cancelled_within_a_second(http, root, asyncio.get_running_loop().time())


@pytest.mark.parametrize("starter", STARTERS)
async def test_disconnect_mid_stream_is_cancelled(
    starter: Starter, http: aiohttp.ClientSession
) -> None:
    async with starter() as root:
        headers = {"x-fleet-fault": "chunk_delay_ms=300"}
        body = {**CHAT, "stream": True, "max_tokens": 40}
        resp = await http.post(f"{root}/v1/chat/completions", json=body, headers=headers)
        first = await resp.content.readuntil(b"\n\n")
        assert first.startswith(b"data: ")
        resp.close()
        await _assert_cancelled_within_a_second(http, root, asyncio.get_running_loop().time())


async def test_finished_requests_are_done_not_cancelled(http: aiohttp.ClientSession) -> None:
    async with await start(FleetSettings(zero_latency=True)) as fleet:
        body = {**CHAT, "stream": True}
        async with http.post(f"{fleet.url}/chat/completions", json=body) as resp:
            await resp.read()
        async with http.post(f"{fleet.url}/chat/completions", json=CHAT) as resp:
            await resp.read()
        log = await _log(http, fleet.root, "min=2&wait=1")
    assert [e["state"] for e in log["requests"]] == ["done", "done"]
    assert [e["status"] for e in log["requests"]] == [200, 200]
