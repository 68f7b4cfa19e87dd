"""Chat completions: OpenAI SDK round trips, stream format, determinism, limits, tools."""

from __future__ import annotations

import aiohttp
import openai
import orjson
from fleet_testkit import sse_lines
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from fleet.server import FleetServer

MSG = [{"role": "user", "content": "Explain list comprehensions."}]
TOOLS = [{
    "type": "function",
    "function": {
        "name": "read_file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["path", "limit"],
        },
    },
}, {"type": "function", "function": {"name": "run", "parameters": {"type": "object"}}}]


async def test_chat_answer_is_prose_with_usage(oai: openai.AsyncOpenAI) -> None:
    answer = await oai.chat.completions.create(model="qwen3-14b", messages=MSG)
    text = answer.choices[0].message.content
    assert text and "\n" not in text and text.endswith(".")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model == "qwen3-14b"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == len(text.split())
    assert answer.usage.prompt_tokens == -(-len(MSG[0]["content"]) // 4)


async def test_same_request_same_answer_and_different_request_differs(
    oai: openai.AsyncOpenAI,
) -> None:
    first = await oai.chat.completions.create(model="m", messages=MSG, temperature=0.7)
    again = await oai.chat.completions.create(model="m", messages=MSG, temperature=0.7)
    other_model = await oai.chat.completions.create(model="m2", messages=MSG)
    other_text = await oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Something else"}]
    )
    assert first.choices[0].message.content == again.choices[0].message.content
    assert first.id != again.id  # ids are per request, content per body
    assert other_model.choices[0].message.content != first.choices[0].message.content
    assert other_text.choices[0].message.content != first.choices[0].message.content


async def test_stream_matches_non_stream_and_reports_usage_last(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "m", "messages": MSG, "max_tokens": 9}
    async with http.post(f"{fleet.url}/chat/completions", json=body) as resp:
        whole = ChatCompletion.model_validate(await resp.json())
    streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
    async with http.post(f"{fleet.url}/chat/completions", json=streamed) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        lines = await sse_lines(resp)
    assert lines[-1] == "data: [DONE]"
    chunks = [ChatCompletionChunk.model_validate(orjson.loads(x[6:])) for x in lines[:-1]]
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert whole.choices[0].finish_reason == "length"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 9 == len(text.split())
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_include_usage_has_no_usage_chunk(
    oai: openai.AsyncOpenAI,
) -> None:
    stream = await oai.chat.completions.create(model="m", messages=MSG, stream=True)
    chunks = [chunk async for chunk in stream]
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


async def test_max_completion_tokens_and_stop(oai: openai.AsyncOpenAI) -> None:
    full = await oai.chat.completions.create(model="m", messages=MSG, max_completion_tokens=5)
    text = full.choices[0].message.content or ""
    assert len(text.split()) == 5 and full.choices[0].finish_reason == "length"
    # The stop string is the answer's third word: the content is cut right before it.
    third = " " + text.split()[2]
    stopped = await oai.chat.completions.create(
        model="m", messages=MSG, max_completion_tokens=5, stop=["@@", third]
    )
    expected = text[: text.index(third)]  # the first occurrence (words can repeat)
    assert expected and stopped.choices[0].message.content == expected
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage is not None
    assert stopped.usage.completion_tokens == len(expected.split())


async def test_tool_call_round_trip(oai: openai.AsyncOpenAI) -> None:
    asked = await oai.chat.completions.create(model="m", messages=MSG, tools=TOOLS)  # type: ignore[arg-type]
    choice = asked.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert len(calls) == 1 and calls[0].function.name == "read_file"  # type: ignore[union-attr]
    args = orjson.loads(calls[0].function.arguments)  # type: ignore[union-attr]
    assert isinstance(args["path"], str) and isinstance(args["limit"], int)
    again = await oai.chat.completions.create(model="m", messages=MSG, tools=TOOLS)  # type: ignore[arg-type]
    assert again.choices[0].message.tool_calls[0].id == calls[0].id  # type: ignore[index]
    history = [
        *MSG,
        {"role": "assistant", "content": None, "tool_calls": [calls[0].model_dump()]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "print('hi')"},
    ]
    done = await oai.chat.completions.create(model="m", messages=history, tools=TOOLS)  # type: ignore[arg-type]
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content and not done.choices[0].message.tool_calls


async def test_tool_choice_none_and_named(oai: openai.AsyncOpenAI) -> None:
    plain = await oai.chat.completions.create(
        model="m", messages=MSG, tools=TOOLS, tool_choice="none"  # type: ignore[arg-type]
    )
    assert plain.choices[0].message.tool_calls is None
    named = await oai.chat.completions.create(
        model="m", messages=MSG, tools=TOOLS,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "run"}},
    )
    call = named.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "run" and call.function.arguments == "{}"  # type: ignore[union-attr]


async def test_streamed_tool_call_deltas(fleet: FleetServer, http: aiohttp.ClientSession) -> None:
    body = {"model": "m", "messages": MSG, "tools": TOOLS, "stream": True}
    async with http.post(f"{fleet.url}/chat/completions", json=body) as resp:
        lines = await sse_lines(resp)
    chunks = [orjson.loads(x[6:]) for x in lines[:-1]]
    head = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert head["index"] == 0 and head["id"].startswith("call_")
    assert head["function"] == {"name": "read_file", "arguments": ""}
    args = "".join(
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for c in chunks[1:-1]
    )
    assert set(orjson.loads(args)) == {"path", "limit"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_completion_over_chat_gets_code(oai: openai.AsyncOpenAI) -> None:
    hole = [{"role": "user", "content": "def f(x):\n    {{FILL_HERE}}\n"}]
    answer = await oai.chat.completions.create(model="m", messages=hole, max_tokens=64)
    text = answer.choices[0].message.content or ""
    assert "\n" in text and not text.endswith(".")


async def test_malformed_requests_are_openai_errors(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    cases = [
        (b"{not json", None),
        (orjson.dumps({"model": "m"}), "messages"),
        (orjson.dumps({"model": "m", "messages": MSG, "max_tokens": "9"}), "max_tokens"),
        (orjson.dumps({"messages": MSG}), "model"),
    ]
    for raw, param in cases:
        async with http.post(f"{fleet.url}/chat/completions", data=raw) as resp:
            assert resp.status == 400
            error = (await resp.json())["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param
