"""Responses API (plain, streamed, function calls) and embeddings."""

from __future__ import annotations

import math

import aiohttp
import openai
import orjson
from fleet_testkit import sse_lines
from openai.types.responses import Response

from fleet.server import FleetServer

TOOLS = [{
    "type": "function", "name": "shell",
    "parameters": {"type": "object", "properties": {"command": {"type": "string"}},
                   "required": ["command"]},
}]


async def test_responses_text_validates_as_sdk_model(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "m", "instructions": "Be brief.", "input": "What is a tuple?"}
    async with http.post(f"{fleet.url}/responses", json=body) as resp:
        response = Response.model_validate(await resp.json())
    assert response.status == "completed"
    assert response.output_text and response.output_text.endswith(".")
    assert response.usage is not None
    assert response.usage.output_tokens == len(response.output_text.split())
    assert response.usage.input_tokens == -(-len("Be brief.What is a tuple?") // 4)


async def test_responses_max_output_tokens_is_incomplete(oai: openai.AsyncOpenAI) -> None:
    response = await oai.responses.create(model="m", input="Explain.", max_output_tokens=3)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert len(response.output_text.split()) == 3


async def test_responses_stream_events(oai: openai.AsyncOpenAI) -> None:
    plain = await oai.responses.create(model="m", input=[{"role": "user", "content": "Hi"}])
    stream = await oai.responses.create(
        model="m", input=[{"role": "user", "content": "Hi"}], stream=True
    )
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == plain.output_text
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.usage is not None
    assert completed.response.output_text == plain.output_text


async def test_function_call_round_trip(oai: openai.AsyncOpenAI) -> None:
    first = await oai.responses.create(
        model="m", instructions="You are an agent.", input="List files.", tools=TOOLS  # type: ignore[arg-type]
    )
    call = first.output[0]
    assert call.type == "function_call" and call.name == "shell"
    assert orjson.loads(call.arguments) == {"command": "ls -la"}
    assert call.call_id.startswith("call_") and call.id and call.id.startswith("fc_")
    history = [
        {"role": "user", "content": "List files."},
        {"type": "function_call", "call_id": call.call_id, "name": "shell",
         "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "a.py b.py"},
    ]
    second = await oai.responses.create(model="m", input=history, tools=TOOLS)  # type: ignore[arg-type]
    assert second.output[0].type == "message" and second.output_text


async def test_function_call_stream_events(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "m", "input": "List files.", "tools": TOOLS, "stream": True}
    async with http.post(f"{fleet.url}/responses", json=body) as resp:
        lines = await sse_lines(resp)
    assert "data: [DONE]" not in lines  # the Responses API has no [DONE]
    names = [line.removeprefix("event: ") for line in lines if line.startswith("event: ")]
    events = [orjson.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert [e["type"] for e in events] == names
    assert "response.function_call_arguments.delta" in names
    args = "".join(e["delta"] for e in events
                   if e["type"] == "response.function_call_arguments.delta")
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert args == done["arguments"] and orjson.loads(args) == {"command": "ls -la"}
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["output"][0]["type"] == "function_call"


async def test_embeddings_float_and_base64(oai: openai.AsyncOpenAI) -> None:
    floats = await oai.embeddings.create(
        model="emb", input=["alpha", "beta"], encoding_format="float"
    )
    assert [len(d.embedding) for d in floats.data] == [16, 16]
    assert math.isclose(sum(v * v for v in floats.data[0].embedding), 1.0, rel_tol=1e-6)
    assert floats.data[0].embedding != floats.data[1].embedding
    # The SDK asks for base64 by default and decodes it: same vector up to float32.
    decoded = await oai.embeddings.create(model="emb", input="alpha", dimensions=16)
    assert all(
        math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6)
        for a, b in zip(decoded.data[0].embedding, floats.data[0].embedding, strict=True)
    )
    wide = await oai.embeddings.create(model="emb", input="alpha", dimensions=64)
    assert len(wide.data[0].embedding) == 64
    assert floats.usage.prompt_tokens == 2 + 1  # ceil(chars / 4) per input


async def test_embeddings_reject_bad_dimensions(
    fleet: FleetServer, http: aiohttp.ClientSession
) -> None:
    body = {"model": "emb", "input": "x", "dimensions": 0}
    async with http.post(f"{fleet.url}/embeddings", json=body) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["param"] == "dimensions"
