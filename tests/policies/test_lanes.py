"""Tests for the lane classifier (policies.lanes)."""

from __future__ import annotations

import copy
import importlib.util
import sys
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from policies.lanes import Endpoint, Lane, LaneDecision, classify


def _load(name: str) -> ModuleType:
    # tests/ has no packages; load the sibling fixtures modules by path. Each is registered
    # under its own name, so the bodies' `from lane_bodies_common import ...` finds the one
    # shared copy whatever pytest's import mode.
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


B = _load("lane_bodies_common")  # Case, prompts and builders
ALL_CASES: list[Any] = (
    _load("lane_bodies_completion").COMPLETION_CASES
    + _load("lane_bodies_agentic").AGENTIC_CASES
    + _load("lane_bodies_qa").QA_CASES
    + _load("lane_bodies_override").OVERRIDE_CASES
)
SOURCES = {"header", "shape", "content", "default"}


def run(case: Any) -> LaneDecision:
    return classify(Endpoint(case.endpoint), case.body, case.headers)


def test_enough_realistic_bodies() -> None:
    assert len(ALL_CASES) >= 50
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)
    assert {c.lane for c in ALL_CASES} == {lane.value for lane in Lane}


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_realistic_body(case: Any) -> None:
    before = copy.deepcopy(case.body)
    decision = run(case)
    assert decision.lane == Lane(case.lane), decision
    assert decision.reasons and all(isinstance(r, str) and r for r in decision.reasons)
    assert case.signal in " | ".join(decision.reasons), decision
    assert decision.source in SOURCES
    assert case.body == before  # pure: the body is not touched


@pytest.mark.parametrize(
    ("case_id", "source"),
    [
        ("tabby-prompt-suffix", "shape"),
        ("continue-qwen-fim", "content"),
        ("legacy-empty-body", "default"),
        ("openai-agents-sdk-chat-tools", "shape"),
        ("langchain-tool-history-no-tools", "shape"),
        ("responses-function-call-output-no-tools", "shape"),
        ("cline-xml-first-turn", "content"),
        ("chat-hole-filler-continue-style", "content"),
        ("continue-chat-mode", "content"),
        ("cline-commit-message-side-job", "content"),
        ("multi-turn-chat-with-cline-ua", "header"),
        ("llm-cli-one-shot", "default"),
        ("override-qa-on-fim", "header"),
        ("override-invalid-ignored", "shape"),
        ("embeddings", "shape"),
    ],
)
def test_source(case_id: str, source: str) -> None:
    case = next(c for c in ALL_CASES if c.id == case_id)
    assert run(case).source == source


def test_override_reason_comes_first_and_invalid_is_noted_last() -> None:
    case = next(c for c in ALL_CASES if c.id == "override-invalid-ignored")
    reasons = run(case).reasons
    assert reasons[0].startswith("shape:")
    assert reasons[-1] == "header: invalid x-laneway-lane='fast' ignored"


def test_starlette_headers_are_case_insensitive() -> None:
    body = B.chat(B.user("hi"))
    hdrs = Headers(headers={"X-Laneway-Lane": "AGENTIC", "User-Agent": "curl/8"})
    assert classify(Endpoint.CHAT, body, hdrs).lane == Lane.AGENTIC
    multi = B.chat(B.user("a"), B.asst("b"), B.user("c"))
    ua = Headers(headers={"User-Agent": "RooCode/3.30.0"})
    assert classify(Endpoint.CHAT, multi, ua).lane == Lane.AGENTIC


# ----------------------------------------------------- agentic never lands in completion
FIM_PROMPT = f"<|fim_prefix|>{B.PY_PREFIX}<|fim_suffix|>{B.PY_SUFFIX}<|fim_middle|>"
INJECTIONS = {
    "prepend-fim": lambda t: FIM_PROMPT + t,
    "append-fim": lambda t: t + "\n" + FIM_PROMPT,
    "starcoder-fim": lambda t: f"<fim_prefix>{t}<fim_suffix>x<fim_middle>",
    "codestral-fim": lambda t: f"[SUFFIX]x[PREFIX]{t}",
    "hole-filler": lambda t: f"<QUERY>\n{t}{{{{FILL_HERE}}}}\n</QUERY>\n<COMPLETION>",
    "cursor": lambda t: f"{t}<CURSOR>",
}
COMPLETION_SAMPLING = {"temperature": 0.0, "max_tokens": 64, "stop": ["</COMPLETION>"]}


def _inject_text(content: Any, fn: Any) -> Any:
    if isinstance(content, str):
        return fn(content)
    if isinstance(content, list):  # a list of parts: the agent's turn gains a new part
        return [*content, {"type": "text", "text": fn("")}]
    return fn("")


def _inject(body: dict[str, Any], fn: Any) -> dict[str, Any]:
    body = copy.deepcopy(body) | COMPLETION_SAMPLING
    if isinstance(body.get("input"), str):
        body["input"] = fn(body["input"])
        return body
    items = body.get("messages", body.get("input"))
    users = [m for m in items if m.get("role") == "user"] or items
    for msg in (users[0], users[-1], items[-1]):
        if "content" in msg:
            msg["content"] = _inject_text(msg["content"], fn)
        else:  # e.g. a function_call_output item
            msg["output"] = fn(str(msg.get("output", "")))
    return body


AGENTIC = [c for c in ALL_CASES if c.lane == "agentic"]


@pytest.mark.parametrize("how", list(INJECTIONS))
@pytest.mark.parametrize("case", AGENTIC, ids=[c.id for c in AGENTIC])
def test_agentic_never_completion_even_with_fim_or_hole_markers(case: Any, how: str) -> None:
    body = _inject(case.body, INJECTIONS[how])
    decision = classify(Endpoint(case.endpoint), body, case.headers)
    assert decision.lane != Lane.COMPLETION, decision


def test_injection_would_be_completion_without_agent_signals() -> None:
    # The mutation above is strong enough to make a plain one-shot chat a completion,
    # so the agentic cases pass because of their agent signals, not a weak injection.
    plain = B.chat(B.user(""))
    for how, fn in INJECTIONS.items():
        decision = classify(Endpoint.CHAT, _inject(plain, fn), {})
        assert decision.lane == Lane.COMPLETION, (how, decision)


# ------------------------------------------------------------ never raises (property)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=8,
)
ROLES = st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"]) | JSON
MARKERS = st.sampled_from(
    ["<|fim_prefix|>", "[SUFFIX]", "<PRE>", "<task>", "{{FILL_HERE}}", "█", "TOOL USE", "", "x"]
)
TEXTY = st.builds(lambda a, b, c: a + b + c, MARKERS, st.text(max_size=20), MARKERS)
PARTS = st.lists(st.fixed_dictionaries({"type": JSON, "text": TEXTY | JSON}), max_size=3)
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES},
    optional={
        "content": TEXTY | PARTS | JSON,
        "tool_calls": JSON,
        "function_call": JSON,
        "type": st.sampled_from(["message", "function_call", "reasoning"]) | JSON,
        "output": JSON,
    },
)
MESSAGES = st.lists(MESSAGE | JSON, max_size=5)
# Every field the classifier reads, each with odd types too, plus unknown keys.
KNOWN = st.fixed_dictionaries(
    {},
    optional={
        "messages": MESSAGES | JSON,
        "input": MESSAGES | TEXTY | JSON,
        "prompt": TEXTY | st.lists(TEXTY | JSON, max_size=2) | JSON,
        "suffix": TEXTY | JSON,
        "instructions": TEXTY | JSON,
        "tools": JSON,
        "functions": JSON,
        "tool_choice": JSON,
        "function_call": JSON,
        "temperature": JSON,
        "max_tokens": JSON,
        "max_completion_tokens": JSON,
        "stop": st.lists(TEXTY, max_size=2) | JSON,
    },
)
ANY_BODY = st.builds(
    lambda known, extra: extra | known, KNOWN, st.dictionaries(st.text(max_size=8), JSON)
)
# Conversations without the tool fields that would end classification early.
CONVERSATION = st.fixed_dictionaries(
    {"messages": MESSAGES, "input": MESSAGES | TEXTY},
    optional={"instructions": TEXTY | JSON, "temperature": JSON, "stop": JSON},
)
BODY = ANY_BODY | CONVERSATION
HEADERS = st.dictionaries(
    st.sampled_from(["x-laneway-lane", "user-agent", "x-title", "originator"]),
    st.text(max_size=20) | st.sampled_from(["qa", "Cline/1", "Roo Code", "codex_cli_rs"]),
)


@settings(max_examples=200, deadline=None)
@given(endpoint=st.sampled_from(list(Endpoint)), body=BODY, headers=HEADERS)
def test_any_json_dict_never_raises(
    endpoint: Endpoint, body: dict[str, Any], headers: dict[str, str]
) -> None:
    decision = classify(endpoint, body, headers)
    assert isinstance(decision.lane, Lane)
    assert decision.reasons and all(isinstance(r, str) for r in decision.reasons)
    assert decision.source in SOURCES


@settings(max_examples=100, deadline=None)
@given(body=st.dictionaries(st.text(max_size=10), JSON))
def test_arbitrary_json_never_raises(body: dict[str, Any]) -> None:
    for endpoint in Endpoint:
        assert isinstance(classify(endpoint, body, {}).lane, Lane)


# ------------------------------------------------------------------------ speed
def big_fim_body() -> dict[str, Any]:
    prefix = "x = compute(1)\n" * 27_000  # ~400 kB
    return B.continue_fim(f"<|fim_prefix|>{prefix}<|fim_suffix|>\n<|fim_middle|>", [])


def big_agent_chat(native_tools: bool) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = [B.system(B.CLINE_SYSTEM), B.user("<task>\nport to rust\n</task>")]
    for i in range(99):
        msgs.append(B.asst(f"<read_file>\n<path>src/m{i}.py</path>\n</read_file>"))
        msgs.append(B.user(f"[read_file for 'src/m{i}.py'] Result:\n" + "pass\n" * 400))
    body = B.chat(*msgs)
    if native_tools:  # a native-tools agent: same history, as tool messages
        body = B.chat(B.user("port to rust"), *(B.asst("x") for _ in range(198)))
        body["messages"].append({"role": "tool", "tool_call_id": "c", "content": "ok"})
    return body


@pytest.mark.parametrize(
    ("endpoint", "make"),
    [
        (Endpoint.COMPLETIONS, big_fim_body),
        (Endpoint.CHAT, lambda: big_agent_chat(False)),
        (Endpoint.CHAT, lambda: big_agent_chat(True)),
    ],
    ids=["fim-400kB", "cline-200-messages", "tool-200-messages"],
)
def test_classify_is_fast_on_big_bodies(endpoint: Endpoint, make: Any) -> None:
    body = make()
    assert len(str(body)) > 200_000 or endpoint == Endpoint.CHAT
    runs = 200
    per_call = (
        min(timeit.repeat(lambda: classify(endpoint, body, {}), number=runs, repeat=3)) / runs
    )
    assert per_call < 1e-3, f"{per_call * 1e6:.1f} µs per call"


def test_scans_are_bounded_windows() -> None:
    # Markers are looked for where clients put them, not everywhere: a hole marker in
    # the middle of a 1 MB paste is not seen, which is what keeps classify O(1) in size.
    filler = "y = 1\n" * 100_000
    deep = B.chat(B.user(filler + "{{FILL_HERE}}" + filler), temperature=0)
    assert classify(Endpoint.CHAT, deep, {}).lane == Lane.QA
    near_end = B.chat(B.user(filler + "{{FILL_HERE}}\n"), temperature=0)
    assert classify(Endpoint.CHAT, near_end, {}).lane == Lane.COMPLETION
