"""`LaneMemo.recall`: the remembered lane decision is always classify's own."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers

from policies.lane_memo import LaneMemo
from policies.lanes import Endpoint, LaneDecision, classify

CHAT: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": "why?"}]}
AGENT_SYSTEM = "You are Cline. TOOL USE\n<read_file>\n<path>x</path>\n</read_file>"


def _decide(memo: LaneMemo, body: dict[str, Any], headers: dict[str, str] | None = None,
            endpoint: Endpoint = Endpoint.CHAT) -> LaneDecision:
    return memo.recall(endpoint, body, Headers(headers or {}), len(repr(body))).decision


def _classify(body: dict[str, Any], headers: dict[str, str] | None = None) -> LaneDecision:
    return classify(Endpoint.CHAT, body, Headers(headers or {}))


def test_a_repeat_gets_the_same_decision_as_classify() -> None:
    memo = LaneMemo()
    first = _decide(memo, CHAT)
    assert first == _classify(CHAT)
    assert _decide(memo, dict(CHAT)) is first


def test_the_headers_classify_reads_are_part_of_the_key() -> None:
    memo = LaneMemo()
    plain = _decide(memo, CHAT)
    forced = _decide(memo, CHAT, {"x-laneway-lane": "agentic"})
    assert plain.lane == "qa" and forced.lane == "agentic"
    assert _decide(memo, CHAT).lane == "qa"
    turns = CHAT | {"messages": [*CHAT["messages"], {"role": "assistant", "content": "ok"},
                                 {"role": "user", "content": "and?"}]}
    for headers in ({}, {"user-agent": "Cline/3.1"}, {"x-title": "Roo Code"},
                    {"originator": "codex_cli_rs"}):
        assert _decide(memo, turns, headers) == _classify(turns, headers), headers


def test_different_bodies_are_told_apart() -> None:
    memo = LaneMemo()
    agent = {"model": "auto", "messages": [{"role": "system", "content": AGENT_SYSTEM},
                                           {"role": "user", "content": "why?"}]}
    for body in (CHAT, agent, CHAT | {"tools": [{"type": "function",
                                                 "function": {"name": "f"}}]}):
        assert _decide(memo, body) == _classify(body)


def test_the_memo_is_bounded() -> None:
    memo = LaneMemo(size=64)
    for i in range(64 + 50):
        _decide(memo, CHAT | {"user": str(i)})
    assert len(memo.decisions) == 64


def test_large_bodies_and_completions_are_not_remembered() -> None:
    memo = LaneMemo()
    big = CHAT | {"messages": [{"role": "user", "content": "x" * 5000}]}
    _decide(memo, big)
    _decide(memo, {"model": "auto", "prompt": "def f("}, endpoint=Endpoint.COMPLETIONS)
    assert len(memo.decisions) == 0


def test_memory_is_fixed_per_entry_and_bounded_whatever_the_headers_hold() -> None:
    memo = LaneMemo(size=64)
    for i in range(200):
        ua = f"client-{i}-" + "x" * 4096  # a distinct 4 KiB header per request
        _decide(memo, CHAT, {"user-agent": ua})
    assert len(memo.decisions) == 64
    # What is kept per entry does not grow with what the client sent.
    assert all(sum(len(repr(part)) for part in key) < 64 for key in memo.decisions)
