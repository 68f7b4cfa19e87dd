"""The official OpenAI SDK against real `laneway serve` and `laneway fleet` processes."""

import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from procs import Proc


@pytest.fixture
def client(laneway: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=laneway.url + "/v1", api_key="unused", max_retries=0)


@pytest.fixture
def clean_fleet(fleet: Proc) -> Iterator[Proc]:
    httpx.post(fleet.url + "/fleet/reset")
    yield fleet
    httpx.post(fleet.url + "/fleet/reset")


def test_chat_answer_carries_lane_model_and_request_id(client: openai.OpenAI):
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "system", "content": "You are in chat mode."},
                  {"role": "user", "content": "What does a Python walrus operator do?"}],
    )
    answer = raw.parse()
    assert answer.choices[0].message.content
    assert raw.headers["x-laneway-lane"] == "qa"
    assert raw.headers["x-laneway-model"] == "qwen3-coder-1.5b"  # cheapest qa model for now
    assert raw.headers["x-laneway-cache"] in {"miss", "bypass"}
    assert raw.headers["x-laneway-trimmed-tokens"].isdigit()
    assert len(raw.headers["x-request-id"]) >= 8


def test_streaming_chat_with_usage(client: openai.OpenAI):
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Explain list comprehensions briefly."}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_legacy_completion_with_suffix_is_completion_lane(client: openai.OpenAI):
    raw = client.completions.with_raw_response.create(
        model="auto", prompt="def add(a, b):\n    ", suffix="\n\nprint(add(1, 2))\n",
        max_tokens=32, temperature=0.1,
    )
    assert raw.parse().choices[0].text
    assert raw.headers["x-laneway-lane"] == "completion"
    assert raw.headers["x-laneway-completion-scope"] in {"line", "block"}


def test_streamed_fim_completion(client: openai.OpenAI):
    prompt = "<|fim_prefix|>def greet(name):\n    <|fim_suffix|>\n\ngreet('x')\n<|fim_middle|>"
    stream = client.completions.create(
        model="auto", prompt=prompt, max_tokens=48, temperature=0.01, stream=True
    )
    text = "".join(c.choices[0].text for c in stream if c.choices)
    assert text


def test_tool_call_round_trip(client: openai.OpenAI):
    tools = [{"type": "function", "function": {
        "name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                       "required": ["path"]}}}]
    messages: list = [{"role": "user", "content": "Open setup.py and tell me the version."}]
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=messages, tools=tools
    )
    assert raw.headers["x-laneway-lane"] == "agentic"
    first = raw.parse().choices[0]
    assert first.finish_reason == "tool_calls"
    call = first.message.tool_calls[0]
    assert call.function.name == "read_file"
    messages += [first.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "version='1.2.3'"}]
    second = client.chat.completions.create(model="auto", messages=messages, tools=tools)
    assert second.choices[0].message.content


def test_responses_api(client: openai.OpenAI):
    resp = client.responses.create(model="auto", input="Summarise what a mutex is.")
    assert resp.output_text


def test_embeddings_pass_through(client: openai.OpenAI):
    emb = client.embeddings.create(model="qwen3-14b", input=["a", "b"])
    assert len(emb.data) == 2 and emb.data[0].embedding


def test_models_lists_configured_models_and_auto(client: openai.OpenAI):
    ids = {m.id for m in client.models.list()}
    assert ids == {"auto", "qwen3-coder-1.5b", "qwen3-14b", "qwen3-235b-a22b"}


def test_pinned_model_is_respected(client: openai.OpenAI):
    raw = client.chat.completions.with_raw_response.create(
        model="qwen3-235b-a22b", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-laneway-model"] == "qwen3-235b-a22b"


def test_unknown_model_is_not_found(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-17", messages=[{"role": "user", "content": "x"}])
    assert info.value.code == "model_not_found"


def test_malformed_json_gets_openai_shaped_400(laneway: Proc):
    r = httpx.post(laneway.url + "/v1/chat/completions", content=b'{"model": "auto", "mess',
                   headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and "JSON" in err["message"]
    assert set(err) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(
    "body, param",
    [
        ({"model": "auto", "messages": "hello"}, "messages"),
        ({"model": "auto", "messages": [{"content": "no role"}]}, "messages[0].role"),
        ({"model": 7, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "auto", "messages": [{"role": "user", "content": "x"}], "stream": "yes"},
         "stream"),
        ({"model": "auto", "messages": [{"role": "user", "content": "x"}], "max_tokens": "9"},
         "max_tokens"),
    ],
)
def test_wrong_types_get_400_naming_the_field(client: openai.OpenAI, body: dict, param: str):
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body=body, cast_to=httpx.Response)
    assert info.value.param == param


def test_paths_without_v1_prefix(laneway: Proc):
    r = httpx.post(laneway.url + "/chat/completions",
                   json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200 and r.headers["x-laneway-lane"] == "qa"
    assert httpx.get(laneway.url + "/models").status_code == 200


def test_unknown_route_is_openai_shaped_404(laneway: Proc):
    r = httpx.post(laneway.url + "/v1/chat/completion", json={})
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"


def test_stream_passes_through_chunk_by_chunk(client: openai.OpenAI, clean_fleet: Proc):
    """The upstream sends 5 chunks 200 ms apart: the first reaches us long before the last."""
    httpx.post(clean_fleet.url + "/fleet/faults",
               json={"model": "qwen3-14b", "chunk_delay_ms": 200, "chunks": 5}).raise_for_status()
    start = time.monotonic()
    stream = client.chat.completions.create(
        model="qwen3-14b", messages=[{"role": "user", "content": "Count to five."}], stream=True
    )
    arrivals = [
        time.monotonic() - start for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert len(arrivals) >= 5
    # The last chunk left the fleet >= 800 ms after the first; buffering would collapse the gap.
    assert arrivals[-1] - arrivals[0] >= 0.6


def test_streamed_responses_api_ends_with_completed(client: openai.OpenAI):
    events = list(client.responses.create(model="auto", input="What is a closure?", stream=True))
    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta")


def test_refusals_before_a_lane_is_known_are_counted(laneway: Proc):
    def refused() -> float:
        text = httpx.get(laneway.url + "/metrics").text
        for line in text.splitlines():
            if line.startswith("laneway_requests_total{") and 'lane="none"' in line \
                    and 'status="400"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    before = refused()
    r = httpx.post(laneway.url + "/v1/chat/completions", content=b"[1, 2]")
    assert r.status_code == 400
    assert refused() == before + 1
