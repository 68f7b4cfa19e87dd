"""`router.plan.decide`: the remembered lane decision is always classify's own."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers

from policies.lanes import Endpoint, classify
from router import plan as plan_mod
from router.context import RequestContext

CHAT: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": "why?"}]}
AGENT_SYSTEM = "You are Cline. TOOL USE\n<read_file>\n<path>x</path>\n</read_file>"


def _ctx(body: dict[str, Any], headers: dict[str, str] | None = None,
         endpoint: Endpoint = Endpoint.CHAT) -> RequestContext:
    return RequestContext(request_id="r", endpoint=endpoint, body=body,
                          headers=Headers(headers or {}), tenant="t", started=0.0,
                          body_bytes=len(repr(body)), requested_model="auto")


def test_a_repeat_gets_the_same_decision_as_classify() -> None:
    ctx = _ctx(CHAT)
    first = plan_mod.decide(ctx)
    assert first == classify(ctx.endpoint, ctx.body, ctx.headers)
    assert plan_mod.decide(_ctx(dict(CHAT))) is first


def test_the_headers_classify_reads_are_part_of_the_key() -> None:
    plain = plan_mod.decide(_ctx(CHAT))
    forced = plan_mod.decide(_ctx(CHAT, {"x-laneway-lane": "agentic"}))
    assert plain.lane == "qa" and forced.lane == "agentic"
    assert plan_mod.decide(_ctx(CHAT)).lane == "qa"
    turns = CHAT | {"messages": [*CHAT["messages"], {"role": "assistant", "content": "ok"},
                                 {"role": "user", "content": "and?"}]}
    for headers in ({}, {"user-agent": "Cline/3.1"}, {"x-title": "Roo Code"},
                    {"originator": "codex_cli_rs"}):
        ctx = _ctx(turns, headers)
        assert plan_mod.decide(ctx) == classify(ctx.endpoint, ctx.body, ctx.headers), headers


def test_different_bodies_are_told_apart() -> None:
    agent = {"model": "auto", "messages": [{"role": "system", "content": AGENT_SYSTEM},
                                           {"role": "user", "content": "why?"}]}
    for body in (CHAT, agent, CHAT | {"tools": [{"type": "function",
                                                 "function": {"name": "f"}}]}):
        ctx = _ctx(body)
        assert plan_mod.decide(ctx) == classify(ctx.endpoint, ctx.body, ctx.headers)


def test_the_memo_is_bounded() -> None:
    for i in range(plan_mod._MEMO_SIZE + 50):
        plan_mod.decide(_ctx(CHAT | {"user": str(i)}))
    assert len(plan_mod._decisions) == plan_mod._MEMO_SIZE


def test_large_bodies_and_completions_are_not_remembered() -> None:
    plan_mod._decisions.clear()
    big = CHAT | {"messages": [{"role": "user", "content": "x" * 5000}]}
    plan_mod.decide(_ctx(big))
    plan_mod.decide(_ctx({"model": "auto", "prompt": "def f("}, endpoint=Endpoint.COMPLETIONS))
    assert len(plan_mod._decisions) == 0
