"""Fault injection through the header, the control API and the config file."""

from __future__ import annotations

import aiohttp
import openai
import orjson
import pytest
from fleet_testkit import sse_lines

from fleet.faults import FaultSpec, parse_fault
from fleet.profiles import settings_from_mapping
from fleet.server import FleetServer, start

CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hello there"}]}
STREAM = {**CHAT, "stream": True, "max_tokens": 40}


def test_parse_fault_header_syntax() -> None:
    spec = parse_fault("status=503; ttft_ms=800 ,chunk_delay_ms=200,chunks=5;rate_limit")
    assert spec == FaultSpec(status=503, ttft_ms=800.0, chunk_delay_ms=200.0, chunks=5,
                             rate_limit=True)
    assert parse_fault("cut_stream=3") == FaultSpec(cut_stream=True, cut_after=3)
    assert parse_fault("hang=false").hang is False
    with pytest.raises(ValueError, match="unknown fault key"):
        parse_fault("explode")
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_fault("error_rate=2")
    with pytest.raises(ValueError):
        parse_fault("status=200")


async def test_status_fault_is_openai_error(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        await oai.chat.completions.create(
            **CHAT, extra_headers={"x-fleet-fault": "status=503"}  # type: ignore[arg-type]
        )
    assert caught.value.status_code == 503
    assert caught.value.body["type"] == "server_error"  # type: ignore[index]


async def test_rate_limit_has_retry_after(fleet: FleetServer, http: aiohttp.ClientSession) -> None:
    headers = {"x-fleet-fault": "rate_limit"}
    async with http.post(f"{fleet.url}/chat/completions", json=CHAT, headers=headers) as resp:
        assert resp.status == 429 and resp.headers["retry-after"] == "1"
        assert (await resp.json())["error"]["code"] == "rate_limit_exceeded"
    log = (await (await http.get(f"{fleet.root}/fleet/requests")).json())["requests"]
    assert log[0]["state"] == "error" and log[0]["fault"] == {"rate_limit": True}


async def test_cut_stream_ends_without_done(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{fleet.url}/chat/completions", json=STREAM) as resp:
        full = await sse_lines(resp)
    headers = {"x-fleet-fault": "cut_stream"}
    received = b""
    async with http.post(f"{fleet.url}/chat/completions", json=STREAM, headers=headers) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):  # the connection dies mid-body
            async for piece in resp.content.iter_any():
                received += piece
    lines = [line for line in received.decode().split("\n") if line]
    assert lines and "data: [DONE]" not in lines
    assert 1 < len(lines) < len(full) - 2
    assert all(orjson.loads(line[6:])["choices"][0]["finish_reason"] is None for line in lines)
    log = (await (await http.get(f"{fleet.root}/fleet/requests?state=error")).json())
    assert log["count"] == 1


async def test_stream_error_event(fleet: FleetServer, http: aiohttp.ClientSession) -> None:
    headers = {"x-fleet-fault": "stream_error;cut_after=2"}
    async with http.post(f"{fleet.url}/chat/completions", json=STREAM, headers=headers) as resp:
        lines = await sse_lines(resp)
    assert len(lines) == 1 + 2 + 1  # role chunk, two content chunks, the error
    assert orjson.loads(lines[-1][6:])["error"]["type"] == "server_error"


async def test_runtime_faults_per_model_and_reset(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    async def status(model: str, headers: dict[str, str] | None = None) -> int:
        body = {**CHAT, "model": model}
        async with http.post(f"{fleet.url}/chat/completions", json=body, headers=headers) as r:
            return r.status

    async with http.post(f"{fleet.root}/fleet/faults",
                         json={"model": "bad", "error_rate": 1.0, "status": 502}) as resp:
        assert resp.status == 200
    assert [await status("bad"), await status("good")] == [502, 200]
    assert await status("bad", {"x-fleet-fault": "none"}) == 200  # header wins
    async with http.post(f"{fleet.root}/fleet/faults", json={"model": "*", "hang": "maybe"}) as r:
        assert r.status == 400
    async with http.delete(f"{fleet.root}/fleet/faults?model=bad") as resp:
        assert (await resp.json())["faults"] == {}
    assert await status("bad") == 200
    await http.post(f"{fleet.root}/fleet/faults", json={"model": "*", "rate_limit": True})
    assert await status("good") == 429
    await http.post(f"{fleet.root}/fleet/reset")
    assert await status("good") == 200
    stats = await (await http.get(f"{fleet.root}/fleet/stats")).json()
    assert stats["by_model"] == {"good": 1} and stats["runtime_faults"] == {}


async def test_error_rate_is_seeded_and_roughly_right(http: aiohttp.ClientSession) -> None:
    settings = settings_from_mapping({"zero_latency": True, "faults": {"*": "error_rate=0.3"}})

    async def outcomes() -> list[int]:
        async with await start(settings) as fleet:
            result = []
            for _ in range(60):
                async with http.post(f"{fleet.url}/chat/completions", json=CHAT) as resp:
                    result.append(resp.status)
            return result

    first, second = await outcomes(), await outcomes()
    assert first == second  # same seed, same sequence
    assert 8 <= first.count(500) <= 30


async def test_bad_fault_header_is_400(fleet: FleetServer, http: aiohttp.ClientSession) -> None:
    headers = {"x-fleet-fault": "status=abc"}
    async with http.post(f"{fleet.url}/chat/completions", json=CHAT, headers=headers) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["param"] == "x-fleet-fault"


async def test_required_api_key(http: aiohttp.ClientSession) -> None:
    settings = settings_from_mapping({"require_api_key": "sk-up", "zero_latency": True})
    async with await start(settings) as fleet:
        async with http.post(f"{fleet.url}/chat/completions", json=CHAT) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["type"] == "authentication_error"
        headers = {"Authorization": "Bearer sk-up"}
        async with http.post(f"{fleet.url}/chat/completions", json=CHAT, headers=headers) as r:
            assert r.status == 200
        log = (await (await http.get(f"{fleet.root}/fleet/requests")).json())["requests"]
    assert [e["authorization"] for e in log] == [
        {"present": False, "value": None}, {"present": True, "value": "Bearer sk-up"},
    ]
    assert [e["state"] for e in log] == ["error", "done"]
    assert log[1]["body"] == CHAT and log[1]["model"] == "m"


async def test_cut_non_stream_body_and_stream_error_without_stream(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    headers = {"x-fleet-fault": "cut_stream"}
    async with http.post(f"{fleet.url}/chat/completions", json=CHAT, headers=headers) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):  # fewer bytes than Content-Length
            await resp.read()
    headers = {"x-fleet-fault": "stream_error"}
    async with http.post(f"{fleet.url}/chat/completions", json=CHAT, headers=headers) as resp:
        assert resp.status == 500


async def _read_until_cut(resp: aiohttp.ClientResponse) -> list[str]:
    received = b""
    with pytest.raises(aiohttp.ClientPayloadError):
        async for piece in resp.content.iter_any():
            received += piece
    return [line for line in received.decode().split("\n") if line]


async def test_cut_past_the_end_still_withholds_the_ending(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    plain = {k: v for k, v in STREAM.items() if k != "stream"}
    async with http.post(f"{fleet.url}/chat/completions", json=plain) as resp:
        full = (await resp.json())["choices"][0]["message"]["content"]
    headers = {"x-fleet-fault": "cut_stream=1000"}
    async with http.post(f"{fleet.url}/chat/completions", json=STREAM, headers=headers) as resp:
        lines = await _read_until_cut(resp)
    chunks = [orjson.loads(line[6:]) for line in lines]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == full
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    body = {"model": "m", "input": "Hi", "stream": True}
    async with http.post(f"{fleet.url}/responses", json=body, headers=headers) as resp:
        events = [line for line in await _read_until_cut(resp) if line.startswith("event:")]
    assert events[-1] == "event: response.output_text.delta"
