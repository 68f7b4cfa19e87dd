"""Trimming Anthropic Messages bodies: the same budgets as chat, in Messages' own shapes.

- qa: the newest turns that fit beside `system` (chat's rule); Messages must open with a
  user turn, so an assistant turn left first by the cut goes too.
- agentic: each `tool_result` block over the tool output cap keeps head + tail; turns are
  never dropped; thinking blocks and their signatures are never touched.

Input bodies are never mutated: changed containers are copied, strings are shared.
"""

from __future__ import annotations

from typing import Any

from policies.trim import ContextTooLong, TrimBudget, TrimResult, _fixed_cost, _result, trim_chat
from policies.trim_chat import PER_MESSAGE, cost, estimate, shrink, upper, upper_and_estimate


def trim_messages_qa(body: dict[str, Any], budget: TrimBudget) -> TrimResult:
    result = trim_chat(body, budget)
    kept = result.body.get("messages")
    if result.body is body or not isinstance(kept, list):
        return result
    start = 0
    while start < len(kept) - 1 and isinstance(kept[start], dict) and (
            kept[start].get("role") == "assistant"):
        start += 1
    if start:
        gone = sum(estimate(m) for m in kept[:start])
        result.body = {**result.body, "messages": kept[start:]}
        result.tokens_after -= gone
        result.trimmed_tokens += gone
    return result


def _capped(message: Any, each: int) -> Any:
    """`message` with every oversized tool_result block cut (the message itself if none)."""
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return message
    blocks = None
    for i, block in enumerate(content):
        if (isinstance(block, dict) and block.get("type") == "tool_result"
                and upper(block) > each):
            cut = shrink(block, each)
            if cut is not block:
                blocks = blocks or list(content)
                blocks[i] = cut
    return message if blocks is None else {**message, "content": blocks}


def trim_messages_agentic(body: dict[str, Any], budget: TrimBudget) -> TrimResult:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return _result(body, 0, 0)
    each = budget.tool_output_tokens + PER_MESSAGE
    work = [_capped(m, each) for m in messages]
    changed = any(a is not b for a, b in zip(work, messages, strict=True))
    fixed = _fixed_cost(body)
    bound, estimated = upper_and_estimate(work)
    window = budget.input_tokens
    if fixed + bound <= window:
        after = fixed + estimated
    else:
        after = fixed + sum(cost(m) for m in work)
        if after > window:
            raise ContextTooLong(after, window)
    before = fixed + sum(estimate(m) for m in messages) if changed else after
    return _result({**body, "messages": work} if changed else body, before, after)
