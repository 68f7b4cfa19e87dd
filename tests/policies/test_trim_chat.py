"""qa and agentic trimming: recent tails, tool-call pairing, tool output compression."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies import tokens
from policies.trim import ContextTooLong, TrimBudget, trim_agentic, trim_chat
from policies.trim_chat import cost, estimate, upper, upper_and_estimate

SYSTEM = {"role": "system", "content": "You are in chat mode. Answer questions about code."}


def turn(i: int, size: int = 400) -> list[dict[str, Any]]:
    words = " ".join(f"word{i}_{j}" for j in range(size // 8))
    return [{"role": "user", "content": f"Question {i}: {words}"},
            {"role": "assistant", "content": f"Answer {i}: {words}"}]


def total(messages: list[Any]) -> int:
    return sum(cost(m) for m in messages)


def tool_call(call_id: str, name: str = "read_file") -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": name, "arguments": '{"path": "src/app.py"}'}}]}


def tool_result(call_id: str, text: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def assert_paired(messages: list[dict[str, Any]]) -> None:
    """Every tool result follows its call; every call keeps all of its results."""
    open_ids: set[str] = set()
    for m in messages:
        if m.get("role") == "tool":
            assert m["tool_call_id"] in open_ids
            open_ids.discard(m["tool_call_id"])
        else:
            assert not open_ids, f"results missing for {open_ids}"
            open_ids = {c["id"] for c in m.get("tool_calls") or []}
    assert not open_ids


def test_long_chat_keeps_system_last_user_and_a_recent_tail() -> None:
    messages = [SYSTEM] + [m for i in range(200) for m in turn(i)]
    messages.append({"role": "user", "content": "And the last question?"})
    body = {"model": "auto", "messages": messages, "stream": True}
    original = copy.deepcopy(body)
    result = trim_chat(body, TrimBudget(16384))
    assert body == original
    kept = result.body["messages"]
    assert kept[0] is SYSTEM and kept[-1] is messages[-1]
    assert total(kept) <= 16384
    assert result.tokens_after == total(kept) and result.tokens_after > 16000
    tail = kept[1:]
    assert tail == messages[len(messages) - len(tail):]  # contiguous, newest
    # Dropped turns are estimated, not counted: what goes is not worth tokenizing.
    assert 0.8 * total(messages) < result.tokens_before < 1.6 * total(messages)
    assert result.trimmed_tokens == result.tokens_before - result.tokens_after
    assert result.scope is None and result.fim is None


def test_short_chat_is_untouched() -> None:
    body = {"messages": [SYSTEM, *turn(1), {"role": "user", "content": "thanks"}]}
    result = trim_chat(body, TrimBudget(16384))
    assert result.body is body and result.trimmed_tokens == 0


def test_system_messages_anywhere_are_kept() -> None:
    messages = [SYSTEM, *turn(0), {"role": "developer", "content": "Be brief."},
                *[m for i in range(1, 60) for m in turn(i)],
                {"role": "user", "content": "last"}]
    result = trim_chat({"messages": messages}, TrimBudget(3000))
    kept = result.body["messages"]
    assert kept[0] is SYSTEM and kept[1] is messages[3] and kept[-1] is messages[-1]
    assert total(kept) <= 3000


def test_tool_calls_stay_with_their_results_in_a_chat() -> None:
    messages: list[dict[str, Any]] = [SYSTEM]
    for i in range(40):
        messages += turn(i, 200)
        messages += [tool_call(f"c{i}"), tool_result(f"c{i}", "x = 1\n" * 30)]
    messages.append({"role": "user", "content": "why?"})
    for budget in range(300, 6000, 137):
        kept = trim_chat({"messages": messages}, TrimBudget(budget)).body["messages"]
        assert total(kept) <= budget
        assert_paired(kept)


def test_huge_last_user_message_keeps_head_and_tail() -> None:
    paste = "".join(f"line {i}: value = compute({i})\n" for i in range(20_000))
    question = paste + "Why does line 19999 fail?"
    messages = [SYSTEM, *turn(0), {"role": "user", "content": question}]
    result = trim_chat({"messages": messages}, TrimBudget(2000))
    kept = result.body["messages"]
    assert kept[0] is SYSTEM and len(kept) == 2
    text = kept[1]["content"]
    assert text.startswith("line 0: value") and text.endswith("Why does line 19999 fail?")
    assert "lines (" in text and "left out by laneway" in text
    assert total(kept) <= 2000


def test_parts_and_images_never_crash() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 9000}}
    messages = [SYSTEM, *[m for i in range(30) for m in turn(i)],
                {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]},
                {"role": "assistant", "content": [{"type": "text", "text": "A chart."}]},
                {"role": "user", "content": [{"type": "text", "text": "x " * 3000}, image]}]
    result = trim_chat({"messages": messages}, TrimBudget(2500))
    kept = result.body["messages"]
    assert kept[-1]["content"][1] == image
    assert total(kept) <= 2500
    odd = {"messages": [{"role": "user", "content": None}, "junk", {"content": 3}]}
    assert trim_chat(odd, TrimBudget(10)).body["messages"]


def test_agentic_compresses_each_huge_tool_output() -> None:
    log = "".join(f"test_{i} ... ok\n" for i in range(60_000)) + "FAILED test_x: boom\n"
    messages = [SYSTEM, {"role": "user", "content": "Fix the failing test."},
                tool_call("a", "run_tests"), tool_result("a", log),
                tool_call("b"), tool_result("b", "small output"),
                {"role": "assistant", "content": "Looking."}]
    body = {"messages": messages, "tools": [{"type": "function", "function": {
        "name": "run_tests", "parameters": {"type": "object", "properties": {}}}}]}
    original = copy.deepcopy(body)
    result = trim_agentic("chat", body, TrimBudget(128_000, tool_output_tokens=8192))
    assert body == original
    kept = result.body["messages"]
    assert len(kept) == len(messages)
    assert all(a is b for a, b in zip(kept, messages, strict=True) if a is not kept[3])
    out = kept[3]["content"]
    assert tokens.count(out) <= 8192
    assert out.startswith("test_0 ... ok\n") and out.endswith("FAILED test_x: boom\n")
    assert "left out by laneway" in out
    assert kept[3]["tool_call_id"] == "a"
    assert_paired(kept)
    assert result.tokens_before > 200_000 and result.tokens_after < 20_000


def test_agentic_too_long_is_refused_with_numbers() -> None:
    messages = [SYSTEM, *[m for i in range(100) for m in turn(i, 800)]]
    with pytest.raises(ContextTooLong) as err:
        trim_agentic("chat", {"messages": messages}, TrimBudget(8000))
    assert err.value.window == 8000 and err.value.needed > 8000
    assert "8000" in str(err.value)


def test_agentic_responses_items() -> None:
    output = "".join(f"{i}: data\n" for i in range(50_000))
    items = [{"type": "message", "role": "user", "content": [
                 {"type": "input_text", "text": "list the files"}]},
             {"type": "function_call", "call_id": "c1", "name": "shell",
              "arguments": '{"cmd": "ls -R"}'},
             {"type": "function_call_output", "call_id": "c1", "output": output}]
    body = {"instructions": "You are Codex.", "input": items, "tools": []}
    result = trim_agentic("responses", body, TrimBudget(100_000, tool_output_tokens=1000))
    new = result.body["input"]
    assert new[:2] == items[:2] and new[2]["call_id"] == "c1"
    assert tokens.count(new[2]["output"]) <= 1000
    string_input = trim_agentic("responses", {"input": "hello"}, TrimBudget(100))
    assert string_input.body == {"input": "hello"}


def test_cline_style_results_in_user_turns() -> None:
    content = "[read_file for 'src/big.ts'] Result:\n" + "const x = 1;\n" * 20_000
    messages = [{"role": "system", "content": "TOOL USE ..."},
                {"role": "user", "content": [{"type": "text", "text": "<task>fix</task>"}]},
                {"role": "assistant", "content": "<read_file><path>src/big.ts</path></read_file>"},
                {"role": "user", "content": [{"type": "text", "text": content},
                                             {"type": "text", "text": "<environment_details/>"}]}]
    result = trim_agentic("chat", {"messages": messages}, TrimBudget(200_000))
    parts = result.body["messages"][3]["content"]
    assert tokens.count(parts[0]["text"]) <= 8192 and parts[1]["text"] == "<environment_details/>"
    assert parts[0]["text"].startswith("[read_file for 'src/big.ts'] Result:\n")


def test_a_part_with_an_odd_type_is_counted_not_a_crash() -> None:
    # {"type": []} in a content part used to raise TypeError (a 500) while counting.
    body = {"messages": [{"role": "user", "content": [{"type": [], "text": "hi"}]}]}
    result = trim_chat(body, TrimBudget(input_tokens=1000))
    assert result.body is body and result.tokens_after > 0


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40)
    | st.sampled_from(["image_url", "input_image", "text", "ünïcödé ✓", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["role", "content", "type", "text", "image_url", "name", "id",
                         "tool_calls", "arguments", "parts", "x"]), inner, max_size=5),
    max_leaves=20,
)


@given(st.lists(_JSON, max_size=6))
def test_reported_token_figures_match_the_per_message_sums(messages: list[Any]) -> None:
    # trim_chat reports what upper() and estimate() add up over the messages, computed in
    # one walk: the token figures (headers, metrics, log, explain) must not move.
    assert upper_and_estimate(messages) == (sum(upper(m) for m in messages),
                                            sum(estimate(m) for m in messages))


def test_only_a_chat_measured_by_bytes_alone_may_be_remembered() -> None:
    # `estimated`: no exact count went into the figures, so the same body and budget give
    # the same result whatever the tokenizer's state; plan remembers only those.
    small = {"messages": [SYSTEM, {"role": "user", "content": "Why is my loop slow?"}]}
    assert trim_chat(small, TrimBudget(input_tokens=16384)).estimated
    tools = small | {"tools": [{"type": "function", "function": {"name": "read_file"}}]}
    assert not trim_chat(tools, TrimBudget(input_tokens=16384)).estimated
    long = {"messages": [SYSTEM, *[m for i in range(40) for m in turn(i)]]}
    assert not trim_chat(long, TrimBudget(input_tokens=2000)).estimated
