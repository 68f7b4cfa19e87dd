"""Property-based: trimming holds its budget and never breaks structure."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import fim, tokens
from policies.fim import FileContext, FimPrompt
from policies.trim import ContextTooLong, TrimBudget, trim_agentic, trim_chat, trim_completion
from policies.trim_chat import PER_MESSAGE, cost

# Code-ish characters plus multi-byte ones; no '<', '[', '|' or '+' so that random text
# never spells a FIM marker by accident.
_CHARS = ("abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 _(){}:;.,=-*/#'\"\t"
          "éü中文😀    ")
_line = st.text(_CHARS, max_size=70)
_lines = st.lists(_line, max_size=40).map("\n".join)
# Big texts from a few random lines repeated: generating thousands of random characters
# per example would make data generation, not trimming, the cost of these tests.
_big_lines = st.builds(lambda lines, n: "\n".join(lines * n),
                       st.lists(_line, min_size=4, max_size=30), st.integers(2, 12))
_text = st.one_of(_lines, _big_lines)
_path = st.from_regex(r"[a-z]{1,6}/[a-z]{1,6}\.(py|ts|go)", fullmatch=True)
_files = st.lists(st.builds(FileContext, _path, _lines), max_size=4)
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]


def examples(n: int) -> settings:
    return settings(max_examples=n, deadline=None, suppress_health_check=_SLOW_OK)


@pytest.fixture(autouse=True, scope="module")
def _encoding_loaded() -> None:
    tokens.warm()


@examples(150)
@given(prefix=_text, suffix=_text, files=_files, family=st.sampled_from(fim.FAMILIES),
       target=st.none() | st.sampled_from(fim.FAMILIES), budget=st.integers(80, 2500),
       repo=st.none() | _path, path=st.none() | _path, scope=st.booleans())
def test_fim_trim_holds_budget_and_structure(prefix: str, suffix: str, files: list[Any],
                                             family: str, target: str | None, budget: int,
                                             repo: str | None, path: str | None,
                                             scope: bool) -> None:
    prompt, field = fim.render(FimPrompt(family, prefix, suffix, tuple(files), repo, path),
                               family)
    source = fim.parse(prompt, field)  # families without file markers carry files in P
    assert source is not None
    prefix, suffix, files = source.prefix, source.suffix, list(source.context)
    body: dict[str, Any] = {"prompt": prompt, "max_tokens": 5000}
    if field is not None:
        body["suffix"] = field
    result = trim_completion("completions", body,
                             TrimBudget(budget, max_output_tokens=256, scope=scope), target)
    out_prompt, out_field = result.body["prompt"], result.body.get("suffix")
    assert tokens.count(out_prompt) + tokens.count(out_field or "") <= budget
    assert result.tokens_after <= budget
    assert result.body["max_tokens"] <= 256
    assert result.scope in ("line", "block")
    # Structure: the right family, and the body is the trimmed prompt rendered.
    kept = result.fim
    assert kept is not None
    out_family = target or family
    assert fim.render(kept, out_family) == (out_prompt, out_field)
    parsed = fim.parse(out_prompt, out_field)
    assert parsed is not None and parsed.family == out_family
    # Cuts: nearest text kept, at line boundaries; the cursor line whole when it fits.
    assert prefix.endswith(kept.prefix) and suffix.startswith(kept.suffix)
    if kept.prefix != prefix and "\n" in kept.prefix:
        assert prefix[len(prefix) - len(kept.prefix) - 1] == "\n"
    if kept.suffix != suffix and "\n" in kept.suffix:
        assert kept.suffix.endswith("\n")
    cursor_before = prefix[prefix.rfind("\n") + 1:]
    cursor_after = suffix[:suffix.find("\n") + 1] if "\n" in suffix else suffix
    if tokens.count(cursor_before) + tokens.count(cursor_after) + 60 <= budget // 2:
        assert kept.prefix.endswith(cursor_before) and kept.suffix.startswith(cursor_after)
    # Other files go first: any file kept means prefix and suffix are whole.
    if kept.context:
        assert (kept.prefix, kept.suffix) == (prefix, suffix)
        paths = [c.path for c in files]
        kept_paths = [c.path for c in kept.context]
        assert all(p in paths for p in kept_paths)


def _message(role: str, text: str, parts: bool) -> dict[str, Any]:
    if parts:
        return {"role": role, "content": [{"type": "text", "text": text}]}
    return {"role": role, "content": text}


@st.composite
def conversations(draw: st.DrawFn, tool_text: st.SearchStrategy[str] = _lines) -> list[Any]:
    messages: list[Any] = []
    if draw(st.booleans()):
        messages.append(_message("system", draw(_lines), draw(st.booleans())))
    n_calls = 0
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(["user", "assistant", "tools", "system"]))
        if kind == "tools":
            ids = [f"call_{n_calls}_{i}" for i in range(draw(st.integers(1, 3)))]
            n_calls += 1
            messages.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": i, "type": "function",
                 "function": {"name": "read", "arguments": '{"p": 1}'}} for i in ids]})
            messages += [{"role": "tool", "tool_call_id": i, "content": draw(tool_text)}
                         for i in ids]
        elif kind == "system" and draw(st.booleans()):
            messages.append({"role": "developer", "content": draw(_line)})
        else:
            role = "assistant" if kind == "assistant" else "user"
            messages.append(_message(role, draw(_text), draw(st.booleans())))
    if not any(m["role"] == "user" for m in messages):
        messages.append(_message("user", draw(_text), False))
    return messages


def assert_paired(messages: list[Any]) -> None:
    waiting: set[str] = set()
    for m in messages:
        if m.get("role") == "tool":
            assert m["tool_call_id"] in waiting
            waiting.discard(m["tool_call_id"])
        else:
            assert not waiting
            waiting = {c["id"] for c in m.get("tool_calls") or []}
    assert not waiting


@examples(100)
@given(messages=conversations(), budget=st.integers(250, 4000))
def test_qa_trim_holds_budget_pairing_and_last_user(messages: list[Any], budget: int) -> None:
    result = trim_chat({"messages": messages}, TrimBudget(budget))
    kept = result.body["messages"]
    assert sum(cost(m) for m in kept) <= budget
    assert result.tokens_after <= budget
    assert_paired(kept)
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    required = [i for i, m in enumerate(messages)
                if m["role"] in ("system", "developer") or i >= last]
    # Required messages survive in order (the biggest may be cut, never dropped).
    kept_required = [m for m in kept if not any(m is messages[i] for i in range(len(messages))
                                                if i not in required)]
    assert len(kept_required) == len(required)
    for i, m in zip(required, kept_required, strict=True):
        assert m.get("role") == messages[i].get("role")
    # The optional messages kept are the newest ones: a contiguous run ending at `last`.
    optional = [i for i, m in enumerate(messages) if i not in required
                and any(k is m for k in kept)]
    if optional:
        run = [i for i in range(optional[0], last) if i not in required]
        assert optional == run


@examples(80)
@given(messages=conversations(_big_lines), window=st.integers(300, 20_000),
       cap=st.integers(40, 600))
def test_agentic_caps_outputs_keeps_pairs_or_refuses(messages: list[Any], window: int,
                                                     cap: int) -> None:
    budget = TrimBudget(window, tool_output_tokens=cap)
    try:
        result = trim_agentic("chat", {"messages": messages}, budget)
    except ContextTooLong as err:
        assert err.needed > err.window == window
        return
    kept = result.body["messages"]
    assert len(kept) == len(messages)
    assert_paired(kept)
    assert sum(cost(m) for m in kept) <= window
    for old, new in zip(messages, kept, strict=True):
        if old.get("role") == "tool":
            assert cost(new) <= cap + PER_MESSAGE
        else:
            assert new is old
