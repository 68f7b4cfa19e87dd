"""The fleet speaks Anthropic's Messages API: the official SDK reads its answers and streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import anthropic
import pytest

from fleet.server import FleetServer

TOOLS = [{"name": "read_file", "description": "Read a file",
          "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                           "required": ["path"]}}]


@pytest.fixture
async def claude(fleet: FleetServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=fleet.root, api_key="k", max_retries=0) as c:
        yield c


async def test_text_answer_with_usage(claude: anthropic.AsyncAnthropic) -> None:
    msg = await claude.messages.create(model="m", max_tokens=200, system="Be brief.",
                                       messages=[{"role": "user", "content": "What is a set?"}])
    assert msg.stop_reason == "end_turn" and msg.content[0].type == "text"
    assert msg.usage.output_tokens == len(msg.content[0].text.split())
    assert msg.usage.input_tokens == -(-len("Be brief.What is a set?") // 4)


async def test_streamed_tool_use_thinking_and_cache_tokens(
    claude: anthropic.AsyncAnthropic, fleet: FleetServer
) -> None:
    async with claude.messages.stream(
        model="m", max_tokens=1000, tools=TOOLS,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 500},
        system=[{"type": "text", "text": "You are an agent. " * 20,
                 "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Open the config."}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    ) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[0].signature.startswith("sig")  # type: ignore[union-attr]
    assert final.content[1].input["path"].endswith(".py")  # type: ignore[union-attr,index]
    assert final.stop_reason == "tool_use"
    assert final.usage.cache_read_input_tokens and final.usage.cache_read_input_tokens > 0
    logged = fleet.state.entries({})[-1]
    assert logged["path"] == "/v1/messages"
    assert logged["headers"]["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert logged["headers"]["anthropic-version"]  # the SDK always sends its version


async def test_tool_result_turn_gets_text(claude: anthropic.AsyncAnthropic) -> None:
    msg = await claude.messages.create(model="m", max_tokens=100, tools=TOOLS,  # type: ignore[arg-type]
                                       messages=[
        {"role": "user", "content": "Open it."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                           "name": "read_file", "input": {"path": "a.py"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "x = 1"}]},
    ])
    assert msg.content[0].type == "text" and msg.stop_reason == "end_turn"


async def test_missing_max_tokens_is_a_400(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    async with http.post(f"{fleet.url}/messages", json=body) as resp:
        assert resp.status == 400
        assert "max_tokens" in (await resp.json())["error"]["message"]


async def test_errors_take_anthropic_shape(claude: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.RateLimitError) as limited:
        await claude.messages.create(model="m", max_tokens=10,
                                     messages=[{"role": "user", "content": "x"}],
                                     extra_headers={"x-fleet-fault": "rate_limit"})
    assert limited.value.body == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "Rate limit reached for requests (simulated)."}}
    with pytest.raises(anthropic.APIStatusError) as broken:  # an `event: error` mid-stream
        async with claude.messages.stream(
            model="m", max_tokens=50, messages=[{"role": "user", "content": "Tell me more."}],
            extra_headers={"x-fleet-fault": "stream_error"},
        ) as stream:
            async for _ in stream:
                pass
    assert "Simulated error in the middle of a stream" in str(broken.value)
