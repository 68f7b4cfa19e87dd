"""The Messages front end's smaller parts: lanes of Messages bodies, their trimming, model
aliases, and cache tokens priced from every API's usage."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from recorder_kit import context, runtime, value

from policies.affinity import session_key
from policies.lanes import Endpoint, Lane, classify
from policies.trim import ContextTooLong, TrimBudget
from policies.trim_messages import trim_messages_agentic, trim_messages_qa
from router.config import ConfigError, parse
from router.stages.record import Record
from router.upstreams.anthropic import fit_thinking

MODELS = [{"name": "big", "api_base": "http://up/v1", "tier": "large",
           "price_per_mtok": {"input": 3.0, "output": 15.0, "cached_input": 0.3}},
          {"name": "small", "api_base": "http://up/v1", "tier": "small"}]


def _lane(body: dict[str, Any]) -> Lane:
    return classify(Endpoint.MESSAGES, body, {}).lane


def test_messages_lanes_by_shape_then_content() -> None:
    tools = [{"name": "Bash", "input_schema": {"type": "object"}}]
    user: Any = [{"role": "user", "content": "Fix the failing test."}]
    assert _lane({"model": "m", "tools": tools, "messages": user}) is Lane.AGENTIC
    history = [*user, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}]
    assert _lane({"model": "m", "messages": history}) is Lane.AGENTIC
    # Claude Code's side request: a title for the session, no tools.
    side = {"model": "m", "system": [{"type": "text", "text": "Generate a concise title."}],
            "messages": [{"role": "user", "content": "Please write a 5-10 word title"}]}
    assert _lane(side) is Lane.QA
    # An agent protocol in the system blocks is still read as one.
    cline = {"model": "m", "system": "TOOL USE\nTool use is formatted using XML-style tags",
             "messages": user}
    assert _lane(cline) is Lane.AGENTIC


def test_agentic_trim_cuts_big_tool_results_and_leaves_thinking_alone() -> None:
    big = "line of output\n" * 4000
    thinking = {"type": "thinking", "thinking": "x " * 5000, "signature": "sig-abc"}
    body = {"model": "m", "messages": [
        {"role": "user", "content": "Run the tests."},
        {"role": "assistant", "content": [thinking, {"type": "tool_use", "id": "t1",
                                                     "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": big}]}]}
    before = orjson.dumps(body)
    out = trim_messages_agentic(body, TrimBudget(input_tokens=100_000, tool_output_tokens=500))
    assert orjson.dumps(body) == before  # the client's body is never changed
    result = out.body["messages"][2]["content"][0]
    assert result["tool_use_id"] == "t1" and len(result["content"]) < len(big) / 4
    assert result["content"].startswith("line of output")  # head and tail kept
    assert out.body["messages"][1]["content"][0] is thinking
    assert out.trimmed_tokens > 0
    with pytest.raises(ContextTooLong):
        trim_messages_agentic(body, TrimBudget(input_tokens=1000, tool_output_tokens=500))


def test_qa_trim_keeps_system_and_opens_with_a_user_turn() -> None:
    turns: list[Any] = []
    for i in range(40):
        turns += [{"role": "user", "content": f"question {i} " + "word " * 300},
                  {"role": "assistant", "content": f"answer {i} " + "word " * 300}]
    turns.append({"role": "user", "content": "the last question"})
    body = {"model": "m", "system": "Be brief.", "messages": turns}
    out = trim_messages_qa(body, TrimBudget(input_tokens=3000))
    kept = out.body["messages"]
    assert out.body["system"] == "Be brief."
    assert kept[0]["role"] == "user" and kept[-1]["content"] == "the last question"
    assert 1 < len(kept) < len(turns) and out.trimmed_tokens > 0


def test_aliases_most_specific_pattern_wins_and_unknown_targets_are_errors() -> None:
    cfg = parse({"models": MODELS, "aliases": {"claude-*": "auto", "claude-haiku-*": "small",
                                               "gpt-4o-mini": "big"}})
    assert cfg.alias("claude-haiku-4-5") == "small"
    assert cfg.alias("claude-sonnet-4-5") == "auto"
    assert cfg.alias("gpt-4o-mini") == "big"
    assert cfg.alias("gpt-4o") is None
    with pytest.raises(ConfigError, match=r"aliases\.claude-\*: unknown model 'nope'"):
        parse({"models": MODELS, "aliases": {"claude-*": "nope"}})


@pytest.mark.parametrize("usage", [
    # Anthropic: cache reads and writes apart from input_tokens.
    {"input_tokens": 200, "cache_read_input_tokens": 800, "cache_creation_input_tokens": 0,
     "output_tokens": 50},
    # OpenAI chat: cached tokens are part of prompt_tokens.
    {"prompt_tokens": 1000, "completion_tokens": 50,
     "prompt_tokens_details": {"cached_tokens": 800}},
], ids=["messages", "chat"])
def test_cache_reads_are_priced_at_the_cached_input_price(usage: dict[str, Any]) -> None:
    rt = runtime()
    rt.config = parse({"models": MODELS})
    big = rt.config.by_name["big"]
    recorder = Record(rt.metrics, rt.limiter, rt.chooser, big, False)
    ctx = context(rt, model=big)
    recorder.begin(ctx)
    recorder.run(ctx, [orjson.dumps({"usage": usage})], True)
    cost = (200 * 3.0 + 800 * 0.3 + 50 * 15.0) / 1e6
    assert value(rt, "laneway_cost_usd_total", lane="qa", model="big") == pytest.approx(cost)
    assert value(rt, "laneway_tokens_total", lane="qa", model="big", kind="input") == 1000


def test_cached_input_defaults_to_the_input_price() -> None:
    big = parse({"models": [{**MODELS[0], "price_per_mtok": {"input": 3.0, "output": 15.0}}]}
                ).by_name["big"]
    assert big.cost(1000, 0, cached_tokens=800) == pytest.approx(1000 * 3.0 / 1e6)


def test_claude_code_session_header_names_the_conversation() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    one = session_key(body, {"x-claude-code-session-id": "s-1"})
    assert one == session_key({**body, "messages": []}, {"x-claude-code-session-id": "s-1"})
    assert one != session_key(body, {"x-claude-code-session-id": "s-2"})
    # laneway's own header, when a client sends both, says it first.
    assert session_key(body, {"x-laneway-session": "mine", "x-claude-code-session-id": "s-1"}
                       ) == session_key(body, {"x-laneway-session": "mine"})


def test_thinking_budget_follows_a_lowered_max_tokens() -> None:
    thinking = {"type": "enabled", "budget_tokens": 32000}
    lowered = fit_thinking({"max_tokens": 20000, "thinking": thinking})
    assert lowered["thinking"] == {"type": "enabled", "budget_tokens": 19999}
    assert thinking["budget_tokens"] == 32000  # the client's own object is left alone
    assert "thinking" not in fit_thinking({"max_tokens": 900, "thinking": thinking})
    kept = {"max_tokens": 64000, "thinking": thinking}
    assert fit_thinking(dict(kept)) == kept
    adaptive = {"max_tokens": 10, "thinking": {"type": "adaptive"}}
    assert fit_thinking(dict(adaptive)) == adaptive
