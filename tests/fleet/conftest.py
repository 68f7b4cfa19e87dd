"""Fixtures: a zero-latency fleet on a free port, an aiohttp session and an OpenAI client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from fleet.profiles import FleetSettings
from fleet.server import FleetServer, start


@pytest.fixture
async def fleet() -> AsyncIterator[FleetServer]:
    async with await start(FleetSettings(zero_latency=True)) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def oai(fleet: FleetServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=fleet.url, api_key="x", max_retries=0)
    async with client:
        yield client
