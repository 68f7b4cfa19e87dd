"""Pacing: time to first token, tokens per second, chunk faults, jitter, zero latency."""

from __future__ import annotations

import asyncio

import aiohttp

from fleet.profiles import BUILTIN_PROFILES, FleetSettings, ModelProfile, jittered_timing
from fleet.server import start

MSG = [{"role": "user", "content": "Tell me about queues."}]
# 100 tok/s means one token per chunk; no jitter so the bounds below are exact lower bounds.
PACED = ModelProfile(name="paced", ttft_ms=150, tokens_per_s=100, jitter=0.0)


async def _timed_stream(
    http: aiohttp.ClientSession, url: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[float, float, int]:
    """(seconds to the first chunk, seconds to the end, number of content chunks)."""
    loop = asyncio.get_running_loop()
    start_at = loop.time()
    first = None
    content = 0
    async with http.post(f"{url}/chat/completions", json=body, headers=headers) as resp:
        async for line in resp.content:
            if line.startswith(b"data: {") and first is None:
                first = loop.time() - start_at
            content += b'"content":"' in line and b'"content":""' not in line
    assert first is not None
    return first, loop.time() - start_at, content


async def test_stream_paced_by_profile(http: aiohttp.ClientSession) -> None:
    async with await start(FleetSettings(profiles={"paced": PACED})) as fleet:
        body = {"model": "paced", "messages": MSG, "max_tokens": 11, "stream": True}
        first, total, chunks = await _timed_stream(http, fleet.url, body, {})
    assert chunks == 11
    assert 0.14 <= first < 0.6
    assert total >= 0.15 + 10 * 0.01 - 0.005  # TTFT, then 1/tokens_per_s per later token
    assert total < 1.5


async def test_non_stream_waits_for_the_whole_answer(http: aiohttp.ClientSession) -> None:
    async with await start(FleetSettings(profiles={"paced": PACED})) as fleet:
        loop = asyncio.get_running_loop()
        began = loop.time()
        body = {"model": "paced", "messages": MSG, "max_tokens": 10}
        async with http.post(f"{fleet.url}/chat/completions", json=body) as resp:
            assert resp.status == 200
        assert 0.15 + 10 * 0.01 - 0.005 <= loop.time() - began < 1.5


async def test_chunk_faults_shape_the_stream(http: aiohttp.ClientSession) -> None:
    async with await start(FleetSettings(zero_latency=True)) as fleet:
        body = {"model": "m", "messages": MSG, "max_tokens": 12, "stream": True}
        fault = {"x-fleet-fault": "chunk_delay_ms=80,chunks=3;ttft_ms=50"}
        first, total, chunks = await _timed_stream(http, fleet.url, body, fault)
        assert chunks == 3
        assert first >= 0.045 and total >= 0.05 + 2 * 0.08 - 0.005
        _, fast_total, fast_chunks = await _timed_stream(http, fleet.url, body, {})
    assert fast_chunks == 3  # 12 tokens at the default 500 tok/s: 5 tokens per chunk
    assert fast_total < 0.1


def test_jitter_is_deterministic_and_small() -> None:
    small, medium, large = BUILTIN_PROFILES
    timings = [jittered_timing(small, seed) for seed in range(200)]
    assert timings == [jittered_timing(small, seed) for seed in range(200)]
    assert len(set(timings)) > 100
    assert all(0.036 <= ttft <= 0.044 for ttft, _ in timings)
    assert all(1 / 330 <= per_token <= 1 / 270 for _, per_token in timings)
    assert small.ttft_ms < medium.ttft_ms < large.ttft_ms
    assert small.tokens_per_s > medium.tokens_per_s > large.tokens_per_s
