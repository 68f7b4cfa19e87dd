"""Upstream streams framed with LF or CRLF line ends reach OpenAI SDK clients whole, are
cached whole and replayed whole: chat, legacy completions and Responses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import APIError, OpenAI
from procs import Proc, fleet_models, start_laneway

KEY = "sk-framing"


@pytest.fixture(scope="module")
def proxy(own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("framing")
    with start_laneway(tmp, {"server": {"api_keys": [KEY]},
                             "models": fleet_models(own_fleet.url)}) as proc:
        yield proc


@pytest.fixture
def client(proxy: Proc) -> Iterator[OpenAI]:
    with OpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=30) as c:
        yield c


def _chat(client: OpenAI, marker: str, temperature: float) -> tuple[str, str, str]:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", stream=True, temperature=temperature,
        messages=[{"role": "user", "content": f"Explain git rebase, briefly. [{marker}]"}],
    )
    text, finish = "", ""
    for chunk in raw.parse():  # an error event would raise here
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return raw.headers["x-laneway-cache"], text, finish


def _completions(client: OpenAI, marker: str, temperature: float) -> tuple[str, str, str]:
    raw = client.completions.with_raw_response.create(
        model="auto", stream=True, temperature=temperature, max_tokens=24,
        prompt=f"# {marker}\ndef add(a, b):\n",
    )
    text, finish = "", ""
    for chunk in raw.parse():
        for choice in chunk.choices:
            text += choice.text
            finish = choice.finish_reason or finish
    return raw.headers["x-laneway-cache"], text, finish


def _responses(client: OpenAI, marker: str, temperature: float) -> tuple[str, str, str]:
    raw = client.responses.with_raw_response.create(
        model="auto", stream=True, temperature=temperature,
        input=f"What does git rebase do? [{marker}]",
    )
    text, last = "", ""
    for event in raw.parse():
        if event.type == "response.output_text.delta":
            text += event.delta
        last = event.type
    return raw.headers["x-laneway-cache"], text, last


CALLS: dict[str, Any] = {"chat": _chat, "completions": _completions, "responses": _responses}
RESOURCES = {"chat": "chat.completions", "completions": "completions",
             "responses": "responses"}
BODIES: dict[str, dict[str, Any]] = {
    "chat": {"messages": [{"role": "user", "content": "Explain git rebase, briefly."}]},
    "completions": {"prompt": "def add(a, b):\n", "max_tokens": 24},
    "responses": {"input": "What does git rebase do?"},
}


def _last_data_lines(client: OpenAI, api: str) -> list[str]:
    """The stream as the SDK's raw lines: the SDK stops reading at `[DONE]`, so what
    laneway wrote after it is only seen here."""
    resource: Any = client
    for part in RESOURCES[api].split("."):
        resource = getattr(resource, part)
    with resource.with_streaming_response.create(
        model="auto", stream=True, temperature=0.9, **BODIES[api]
    ) as raw:
        return [line for line in raw.iter_lines() if line.startswith("data:")][-2:]
ENDS = {"chat": "stop", "completions": "stop", "responses": "response.completed"}


@pytest.mark.parametrize("api", CALLS)
@pytest.mark.parametrize("framing", ["lf", "crlf"])
def test_a_stream_reaches_the_client_and_the_cache_whole(
    client: OpenAI, fleet_ctl: httpx.Client, framing: str, api: str
) -> None:
    fleet_ctl.post("/fleet/faults", json={"model": "*", "crlf": framing == "crlf"}
                   ).raise_for_status()
    call = CALLS[api]
    marker = uuid.uuid4().hex
    relayed, text, end = call(client, marker, 0.9)  # not cacheable: relayed as it came
    assert (relayed, end) == ("bypass", ENDS[api]) and text
    last = _last_data_lines(client, api)
    assert not any(line.startswith('data: {"error"') for line in last), last
    assert last[-1] == "data: [DONE]" or '"response.completed"' in last[-1]
    cached, text, end = call(client, marker, 0)
    assert (cached, end) == ("miss", ENDS[api]) and text
    replayed, again, end = call(client, marker, 0)
    assert (replayed, end) == ("l1", ENDS[api])
    assert again == text


@pytest.mark.parametrize("framing", ["lf", "crlf"])
def test_a_stream_cut_inside_an_event_ends_with_an_error_event_of_its_own(
    client: OpenAI, fleet_ctl: httpx.Client, framing: str
) -> None:
    fleet_ctl.post("/fleet/faults", json={"model": "*", "cut_mid_event": True,
                                          "crlf": framing == "crlf"}).raise_for_status()
    stream = client.chat.completions.create(
        model="auto", stream=True, temperature=0.9,
        messages=[{"role": "user", "content": "Explain git rebase, briefly."}],
    )
    text = ""
    with pytest.raises(APIError, match=r"qwen3-.* stream"):
        for chunk in stream:
            text += chunk.choices[0].delta.content or "" if chunk.choices else ""
    assert text  # what came before the cut reached the client
