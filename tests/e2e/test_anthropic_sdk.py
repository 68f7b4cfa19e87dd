"""The official Anthropic SDK against real `laneway serve` and `laneway fleet` processes:
the native path (a Messages model), Messages clients on OpenAI-compatible models, and each
time the body the upstream received (the fleet's request log)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from procs import Proc, fleet_models, start_fleet, start_laneway, wait_until

CLIENT_KEY = "sk-laneway-client"
UPSTREAM_KEY = "sk-upstream-secret"
TOOLS: list[Any] = [{
    "name": "read_file", "description": "Read a file from the repository.",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                     "required": ["path"]},
}]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp: Path = tmp_path_factory.mktemp("anthropic-sdk")
    with start_fleet(tmp, {"require_api_key": UPSTREAM_KEY, "zero_latency": True}) as fleet:
        models = [m | {"api_key": UPSTREAM_KEY} for m in fleet_models(fleet.url)]
        models.append({
            "name": "claude-fleet", "api_base": fleet.url + "/v1", "provider": "anthropic",
            "api_key": UPSTREAM_KEY, "tier": "large", "lanes": ["qa", "agentic"],
            "context_window": 200000,
            "price_per_mtok": {"input": 3.0, "output": 15.0, "cached_input": 0.3},
        })
        config = {"server": {"api_keys": [CLIENT_KEY], "max_body_bytes": 400_000},
                  "models": models,
                  "aliases": {"claude-opus-*": "claude-fleet", "claude-*": "auto"}}
        with start_laneway(tmp, config) as laneway:
            yield fleet, laneway


@pytest.fixture
def fleet(stack: tuple[Proc, Proc]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack[0].url) as c:
        c.post("/fleet/reset").raise_for_status()
        yield c
        c.post("/fleet/reset").raise_for_status()


@pytest.fixture
def claude(stack: tuple[Proc, Proc]) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=stack[1].url, api_key=CLIENT_KEY, max_retries=0) as c:
        yield c


def received(fleet: httpx.Client) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = fleet.get("/fleet/requests").json()["requests"]
    return entries


def test_native_create_passes_the_body_and_anthropic_headers_through(
    claude: anthropic.Anthropic, fleet: httpx.Client
) -> None:
    system: Any = [{"type": "text", "text": "You are a careful engineer.",
                    "cache_control": {"type": "ephemeral"}}]
    raw = claude.messages.with_raw_response.create(
        model="claude-opus-4-1", max_tokens=2000, system=system,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "What does a context manager do?"}],
        extra_headers={"anthropic-beta": "context-management-2025-06-27"},
        extra_body={"context_management": {"edits": []}, "output_config": {"effort": "low"}},
    )
    msg = raw.parse()
    assert [b.type for b in msg.content] == ["thinking", "text"]
    assert msg.content[0].signature.startswith("sig")  # type: ignore[union-attr]
    assert msg.usage.cache_read_input_tokens and msg.usage.cache_read_input_tokens > 0
    assert raw.headers["x-laneway-model"] == "claude-fleet"
    assert raw.headers["x-laneway-lane"] == "qa"
    [sent] = received(fleet)
    assert sent["path"] == "/v1/messages"
    assert sent["x_api_key"] == UPSTREAM_KEY  # laneway's upstream key, never the client's
    assert sent["headers"]["anthropic-beta"] == "context-management-2025-06-27"
    assert sent["headers"]["anthropic-version"] == raw.http_request.headers["anthropic-version"]
    body = sent["body"]
    assert body["system"] == system and body["thinking"]["budget_tokens"] == 1024
    assert body["context_management"] == {"edits": []}
    assert body["output_config"] == {"effort": "low"}


def test_native_stream_keeps_thinking_signature_and_tool_use(
    claude: anthropic.Anthropic, fleet: httpx.Client
) -> None:
    with claude.messages.stream(
        model="claude-fleet", max_tokens=4000, tools=TOOLS,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "Open the settings module."}],
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "input_json" in kinds  # the SDK's event for each input_json_delta
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[0].signature  # type: ignore[union-attr]
    assert final.stop_reason == "tool_use"
    assert final.content[1].input["path"]  # type: ignore[union-attr,index]
    assert received(fleet)[0]["body"]["stream"] is True


def _tool_loop(claude: anthropic.Anthropic, stream: bool, headers: dict[str, str]
               ) -> tuple[list[str], list[Any]]:
    """Three turns of an agent: a call, its result, the answer. Returns the models that
    served each turn and the final answer's content."""
    messages: list[Any] = [{"role": "user", "content": "Open the config and summarise it."}]
    served: list[str] = []
    for _ in range(3):
        if stream:
            with claude.messages.stream(model="claude-sonnet-4-5", max_tokens=4000,
                                        tools=TOOLS, messages=messages,
                                        extra_headers=headers) as s:
                msg = s.get_final_message()
                served.append(s.response.headers["x-laneway-model"])
        else:
            raw = claude.messages.with_raw_response.create(
                model="claude-sonnet-4-5", max_tokens=4000, tools=TOOLS, messages=messages,
                extra_headers=headers)
            msg = raw.parse()
            served.append(raw.headers["x-laneway-model"])
        messages.append({"role": "assistant", "content": [b.model_dump() for b in msg.content]})
        if msg.stop_reason != "tool_use":
            return served, msg.content
        call = next(b for b in msg.content if b.type == "tool_use")
        messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": call.id, "content": "DEBUG = True\n"}]})
    raise AssertionError("the agent never finished")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_tool_use_over_several_turns_on_an_openai_compatible_model(
    claude: anthropic.Anthropic, fleet: httpx.Client, stream: bool
) -> None:
    served, content = _tool_loop(claude, stream, {"x-claude-code-session-id": f"s-{stream}"})
    assert content[0].type == "text" and content[0].text
    assert len(served) == 2 and len(set(served)) == 1  # the session stays on one model
    model = served[0]
    assert model != "claude-fleet"  # so this run tests the translation
    first, second = received(fleet)
    assert first["path"] == second["path"] == "/v1/chat/completions"
    assert first["body"]["tools"][0]["function"]["name"] == "read_file"
    call = second["body"]["messages"][1]["tool_calls"][0]
    result = second["body"]["messages"][2]
    assert result == {"role": "tool", "tool_call_id": call["id"], "content": "DEBUG = True\n"}
    assert "thinking" not in second["body"] and second["body"]["max_tokens"] == 4000


def test_side_request_without_tools_takes_the_qa_lane(
    claude: anthropic.Anthropic, fleet: httpx.Client
) -> None:
    raw = claude.messages.with_raw_response.create(
        model="claude-haiku-4-5", max_tokens=512,
        system="Summarize this coding conversation in under 50 characters.",
        messages=[{"role": "user", "content": "Please write a title for: fix the login bug"}],
    )
    assert raw.parse().content[0].type == "text"
    assert raw.headers["x-laneway-lane"] == "qa"
    assert raw.headers["x-laneway-model"] == "qwen3-coder-1.5b"  # the cheapest qa model


def test_count_tokens_is_answered_by_laneway_alone(
    claude: anthropic.Anthropic, fleet: httpx.Client
) -> None:
    short = claude.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hello"}])
    long = claude.messages.count_tokens(
        model="claude-sonnet-4-5", system="You are a careful engineer.", tools=TOOLS,
        messages=[{"role": "user", "content": "hello " * 200}])
    assert 0 < short.input_tokens < 20 < 200 < long.input_tokens
    assert received(fleet) == []


def test_error_types(claude: anthropic.Anthropic, stack: tuple[Proc, Proc],
                     fleet: httpx.Client) -> None:
    user: Any = [{"role": "user", "content": "hi"}]
    with (anthropic.Anthropic(base_url=stack[1].url, api_key="wrong", max_retries=0) as bad,
          pytest.raises(anthropic.AuthenticationError) as auth):
        bad.messages.create(model="claude-fleet", max_tokens=10, messages=user)
    assert auth.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert "wrong" not in auth.value.response.text
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="gpt-9", max_tokens=10, messages=user)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.BadRequestError) as bad_request:
        claude.messages.create(model="claude-fleet", max_tokens=10,
                               messages=[{"role": "robot", "content": "hi"}])  # type: ignore[typeddict-item]
    assert bad_request.value.body["type"] == "error"  # type: ignore[index]
    assert bad_request.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    with pytest.raises(anthropic.APIStatusError) as too_large:
        claude.messages.create(model="claude-fleet", max_tokens=10,
                               messages=[{"role": "user", "content": "x" * 500_000}])
    assert too_large.value.status_code == 413
    assert too_large.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    fleet.post("/fleet/faults", json={"model": "claude-fleet", "rate_limit": True})
    with pytest.raises(anthropic.RateLimitError) as limited:
        claude.messages.create(model="claude-fleet", max_tokens=10, messages=user)
    assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert limited.value.response.headers["retry-after"]
    fleet.post("/fleet/faults", json={"model": "claude-fleet", "rate_limit": False,
                                      "status": 500})
    with pytest.raises(anthropic.APIStatusError) as failed:
        claude.messages.create(model="claude-fleet", max_tokens=10, messages=user)
    assert failed.value.status_code == 502
    assert failed.value.body["error"]["type"] == "api_error"  # type: ignore[index]


@pytest.mark.parametrize("model", ["claude-fleet", "qwen3-14b"], ids=["native", "translated"])
def test_stream_cut_by_the_upstream_ends_with_an_error_event(
    claude: anthropic.Anthropic, fleet: httpx.Client, model: str
) -> None:
    fleet.post("/fleet/faults", json={"model": model, "cut_stream": True, "chunks": 6})
    story: Any = [{"role": "user", "content": "Tell me a story."}]
    # The SDK raises on `event: error`; without one it would wait or end quietly.
    with (pytest.raises(anthropic.APIStatusError) as cut,
          claude.messages.stream(model=model, max_tokens=200, messages=story) as stream):
        for _ in stream:
            pass
    assert f"Model '{model}'" in str(cut.value)  # laneway's own error event, not a hang


def test_openai_client_reaches_a_messages_model_with_tools(
    stack: tuple[Proc, Proc], fleet: httpx.Client
) -> None:
    import openai

    client = openai.OpenAI(base_url=stack[1].url + "/v1", api_key=CLIENT_KEY, max_retries=0)
    tools: Any = [{"type": "function", "function": {
        "name": "read_file", "parameters": TOOLS[0]["input_schema"]}}]
    messages: Any = [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "Open the config."}]
    first = client.chat.completions.create(model="claude-fleet", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "DEBUG = True"}]
    stream = client.chat.completions.create(model="claude-fleet", messages=messages,
                                            tools=tools, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    sent = [e["body"] for e in received(fleet)]
    assert [e["path"] for e in received(fleet)] == ["/v1/messages"] * 2
    assert sent[0]["system"] == "Be brief." and sent[0]["tools"][0]["name"] == "read_file"
    assert sent[1]["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent[1]["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": call.id, "content": "DEBUG = True"}]


def test_refusals_are_in_the_access_log(stack: tuple[Proc, Proc]) -> None:
    laneway = stack[1]
    probe = httpx.head(laneway.url + "/")  # what Claude Code sends first
    assert probe.status_code == 404
    denied = httpx.post(laneway.url + "/v1/messages?beta=true", json={},
                        headers={"x-api-key": "sk-wrong-key-123"})
    assert denied.status_code == 401 and "sk-wrong-key-123" not in denied.text
    rids = {probe.headers["x-request-id"], denied.headers["x-request-id"]}

    def logged() -> list[dict[str, Any]]:
        lines = [json.loads(x) for x in laneway.log().splitlines() if x.startswith("{")]
        return [x for x in lines if x.get("request_id") in rids]

    wait_until(lambda: len(logged()) == 2, what="both refusals in the access log")
    # A refusal before a route names the path; one on a model route names its API.
    assert {(x["endpoint"], x["status"]) for x in logged()} == {("/", 404), ("messages", 401)}
    assert all(x["error"] for x in logged())  # each says why
    assert "sk-wrong-key-123" not in laneway.log()


@pytest.mark.parametrize("model", ["claude-fleet", "qwen3-14b"], ids=["native", "translated"])
def test_repeated_qa_answers_come_from_the_cache_whole_and_streamed(
    claude: anthropic.Anthropic, fleet: httpx.Client, model: str
) -> None:
    ask: dict[str, Any] = {
        "model": model, "max_tokens": 300, "extra_body": {"temperature": 0},
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [{"role": "user", "content": f"What is a dataclass? ({model})"}]}
    first = claude.messages.with_raw_response.create(**ask)
    again = claude.messages.with_raw_response.create(**ask)
    with claude.messages.stream(**ask) as stream:
        replayed = stream.get_final_message()
        cache = stream.response.headers["x-laneway-cache"]
    assert first.headers["x-laneway-cache"] == "miss"
    assert again.headers["x-laneway-cache"] == "l1" and cache == "l1"
    whole = first.parse()

    def blocks(content: list[Any]) -> list[tuple[Any, ...]]:
        return [(b.type, getattr(b, "text", None), getattr(b, "thinking", None),
                 getattr(b, "signature", None)) for b in content]

    assert blocks(again.parse().content) == blocks(whole.content) == blocks(replayed.content)
    assert blocks(whole.content)[-1][1]  # the text itself
    assert replayed.stop_reason == whole.stop_reason
    assert replayed.usage.output_tokens == whole.usage.output_tokens
    assert len(received(fleet)) == 1


def test_explain_plans_a_messages_request_without_calling_upstream(
    stack: tuple[Proc, Proc], fleet: httpx.Client
) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 64000, "tools": TOOLS,
            "messages": [{"role": "user", "content": "Fix the bug."}]}
    got = httpx.post(stack[1].url + "/laneway/explain", json={"path": "/v1/messages?beta=true",
                                                             "body": body},
                     headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert got.status_code == 200, got.text
    plan = got.json()
    assert plan["lane"] == "agentic" and plan["model"]
    assert received(fleet) == []


def test_upstream_error_event_reaches_the_client_once(
    stack: tuple[Proc, Proc], fleet: httpx.Client
) -> None:
    fleet.post("/fleet/faults", json={"model": "claude-fleet", "stream_error": True,
                                      "chunks": 6})
    body = {"model": "claude-fleet", "max_tokens": 200, "stream": True,
            "messages": [{"role": "user", "content": "Tell me a long story."}]}
    with httpx.stream("POST", stack[1].url + "/v1/messages", json=body,
                      headers={"x-api-key": CLIENT_KEY}) as resp:
        text = resp.read().decode()
    assert resp.status_code == 200  # the stream had started
    assert text.count("event: error") == 1
    assert "Simulated error in the middle of a stream" in text
    assert "message_stop" not in text


def test_an_api_with_no_bridge_to_a_messages_model_is_a_clear_400(
    stack: tuple[Proc, Proc], fleet: httpx.Client
) -> None:
    got = httpx.post(stack[1].url + "/v1/responses", json={"model": "claude-fleet",
                                                          "input": "hi"},
                     headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert got.status_code == 400, got.text
    assert "cannot answer a 'responses' request" in got.json()["error"]["message"]
    assert received(fleet) == []
