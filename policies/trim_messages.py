"""Trimming Anthropic Messages bodies: the same budgets as chat, in Messages' own shapes.

- qa: the newest turns that fit beside `system` (chat's rule); Messages must open with a
  user turn, so an assistant turn left first by the cut goes too.
- agentic: each `tool_result` block over the tool output cap keeps head + tail; turns are
  never dropped; thinking blocks and their signatures are never touched.

Input bodies are never mutated: changed containers are copied, strings are shared.
"""

from __future__ import annotations

from typing import Any

from policies.trim import ContextTooLong, TrimBudget, TrimResult, _result, trim_chat
from policies.trim_chat import PER_MESSAGE, cost, estimate, shrink, upper, upper_and_estimate


def trim_messages_qa(body: dict[str, Any], budget: TrimBudget) -> TrimResult:
    messages = body.get("messages")
    system = body.get("system")
    if system and isinstance(messages, list):
        # `system` as chat's leading system turn: kept whole, and sized by bytes first like
        # every turn (no tokenizer while the prompt plainly fits).
        as_chat = {k: v for k, v in body.items() if k != "system"}
        as_chat["messages"] = [{"role": "system", "content": system}, *messages]
        result = trim_chat(as_chat, budget)
        if result.body is as_chat:  # nothing cut
            return result.with_body(body)
        result.body = {**body, "messages": result.body["messages"][1:]}
    else:
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
    # The system prompt and tool schemas (Claude Code's: ~80 kB) are sized by bytes with
    # the turns: the tokenizer runs only when the whole might not fit the window.
    fixed = [x for x in (body.get("system"), body.get("tools")) if x]
    bound, estimated = upper_and_estimate(work + fixed)
    window = budget.input_tokens
    if bound <= window:
        after = estimated
    else:
        after = sum(cost(m) for m in work + fixed)
        if after > window:
            raise ContextTooLong(after, window)
    before = after
    if changed:
        before = estimated - sum(estimate(m) for m in work) + sum(estimate(m) for m in messages)
    result = _result({**body, "messages": work} if changed else body, before, after)
    result.estimated = bound <= window
    return result
