"""`max_tokens` is a ceiling: agent clients' fixed defaults are served, not refused (issue 19)."""

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from procs import Proc, fleet_models, start_laneway

TOOLS = [{"type": "function", "function": {
    "name": "read", "description": "Read a file",
    "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]
# opencode's default request shape (client-shapes.md): tools, streaming, max_tokens 32000
# whatever the model's window, beside its long system prompt (~4k tokens here).
SYSTEM = "You are opencode, an interactive CLI agent.\n" + "- Keep answers short.\n" * 800
OPENCODE = {
    "messages": [{"role": "system", "content": SYSTEM},
                 {"role": "user", "content": "Read main.py and tell me what it does."}],
    "tools": TOOLS, "stream": True, "max_tokens": 32000,
}


@pytest.fixture(scope="module")
def small_window(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """Only the 32k-window model, serving every lane (the fleet enforces its window too)."""
    tmp: Path = tmp_path_factory.mktemp("ceiling")
    coder = fleet_models(fleet.url)[0] | {"lanes": ["completion", "qa", "agentic"]}
    with start_laneway(tmp, {"models": [coder]}) as proc:
        yield proc


@pytest.fixture
def client(small_window: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=small_window.url + "/v1", api_key="x", max_retries=0)


@pytest.mark.parametrize("model", ["auto", "qwen3-coder-1.5b"])
def test_opencode_default_shape_is_answered_by_a_32k_model(client: openai.OpenAI, model: str):
    with client.chat.completions.with_streaming_response.create(
        model=model, **OPENCODE  # type: ignore[arg-type]
    ) as raw:
        assert raw.status_code == 200
        assert raw.headers["x-laneway-model"] == "qwen3-coder-1.5b"
        chunks = list(raw.parse())
    assert any(c.choices and (c.choices[0].delta.content or c.choices[0].delta.tool_calls)
               for c in chunks)


def test_max_completion_tokens_is_lowered_too(client: openai.OpenAI):
    answer = client.chat.completions.create(
        model="auto", max_completion_tokens=40000,
        messages=[{"role": "user", "content": "What is a closure?"}],
    )
    assert answer.choices[0].message.content


def test_a_prompt_no_window_holds_is_a_400_context_length_exceeded(client: openai.OpenAI):
    huge = "word " * 200_000  # ~250k tokens: no trimming keeps a one-message prompt whole
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="auto", tools=TOOLS, max_tokens=100,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": huge}],
        )
    assert refused.value.code == "context_length_exceeded"


def test_a_lane_without_models_is_a_503_with_retry_after(
    fleet: Proc, tmp_path_factory: pytest.TempPathFactory
):
    coder = fleet_models(fleet.url)[0]  # completion and qa only: nothing serves agentic
    with start_laneway(tmp_path_factory.mktemp("no-agentic"), {"models": [coder]}) as proc:
        c = openai.OpenAI(base_url=proc.url + "/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.InternalServerError) as refused:
            c.chat.completions.create(model="auto", tools=TOOLS,  # type: ignore[arg-type]
                                      messages=[{"role": "user", "content": "List files."}])
    assert refused.value.status_code == 503
    assert int(refused.value.response.headers["retry-after"]) >= 1
