"""Fixtures for the router tests: the lean HTTP/1.1 client's pool, the fleet in this
process, laneway's upstream client on that pool, a refused port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest

from fleet.profiles import FleetSettings
from fleet.server import FleetServer, start
from router.upstreams import http1
from router.upstreams.openai import OpenAIUpstream


@pytest.fixture
async def pool() -> AsyncIterator[http1.Pool]:
    pool = http1.Pool()
    yield pool
    pool.close()


@pytest.fixture
async def fleet_app() -> AsyncIterator[FleetServer]:
    """The fleet in this process (the root conftest's `fleet` is a process of its own)."""
    async with await start(FleetSettings()) as server:
        yield server


@pytest.fixture
async def caller(pool: http1.Pool) -> AsyncIterator[OpenAIUpstream]:
    """The upstream client with the lean pool, as laneway calls plain-HTTP models."""
    async with aiohttp.ClientSession() as session:  # only for https://, unused here
        yield OpenAIUpstream(session, pool)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port that is bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
