"""Trimming a request to its lane's budget without breaking its structure.

- completion: FIM prompts are parsed (any family), other files dropped first, prefix and
  suffix cut at line boundaries ~75/25 around the cursor, rendered for the chosen model's
  family; output capped; "line" scope adds a newline stop and a small cap.
- qa: system messages and the last user message stay; the oldest turns go first; what
  remains is a contiguous recent tail (a tool call never loses its results). A last user
  message bigger than the whole budget keeps its head and tail around a marker.
- agentic: each tool output over its cap keeps head + tail around a marker; turns are never
  dropped (agents depend on their history); if it still does not fit: ContextTooLong.

Input bodies are never mutated: changed containers are copied, strings are shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from policies import scope as scopes
from policies.fim import FimPrompt, parse, render, stop_markers, vocabulary
from policies.trim_chat import (
    PER_MESSAGE,
    cost,
    estimate,
    keep_tail,
    shrink,
    units,
    upper,
    upper_and_estimate,
)
from policies.trim_fim import find_hole, fit, fit_hole

LINE_MAX_TOKENS = 64  # the rest of one line; long lines of code are rarely over 40 tokens
MAX_STOPS = 4  # OpenAI's limit; a client already sending more targets a server allowing more


@dataclass(frozen=True, slots=True)
class TrimBudget:
    input_tokens: int  # lane input budget (completion 4096, qa 16384, agentic: the window)
    prefix_share: float = 0.75
    max_output_tokens: int | None = None  # cap (completion 256); None = client's
    tool_output_tokens: int = 8192  # agentic, per tool output
    scope: bool = True  # completion line/block decision on
    # An experiment arm's or a user's own scope ("line" | "block"), over the decision.
    force_scope: str | None = None


@dataclass(slots=True)  # one per request, never changed; frozen's __init__ costs ~1 us
class TrimResult:
    body: dict[str, Any]
    tokens_before: int
    tokens_after: int
    trimmed_tokens: int
    scope: str | None  # "line" | "block" for completions, else None
    fim: FimPrompt | None  # the FIM prompt as sent (after trimming)
    # True when only byte sizes and estimates went into it (no exact count, no tokenizer
    # state): a pure function of the body and the budget, which a memo may keep.
    estimated: bool = False

    def with_body(self, body: dict[str, Any]) -> TrimResult:
        """The same figures for `body` (an estimated result: its body was left as it came)."""
        return TrimResult(body, self.tokens_before, self.tokens_after, self.trimmed_tokens,
                          self.scope, self.fim, self.estimated)


class ContextTooLong(Exception):
    """Even trimmed, the input does not fit: the pipeline answers 400 context_length_exceeded."""

    def __init__(self, needed: int, window: int) -> None:
        super().__init__(f"this request needs {needed} input tokens after trimming; "
                         f"the largest context window available is {window}")
        self.needed = needed
        self.window = window


def _result(body: dict[str, Any], before: int, after: int, scope: str | None = None,
            fim: FimPrompt | None = None) -> TrimResult:
    before = max(before, after)
    return TrimResult(body, before, after, before - after, scope, fim)


# ---------------------------------------------------------------- completion lane

def trim_completion(endpoint: str, body: dict[str, Any], budget: TrimBudget,
                    target_family: str | None, exact: bool = False) -> TrimResult:
    """``endpoint``: "completions" (prompt [+ suffix]) or "chat" (completion over chat).

    A prompt that obviously fits is not counted: its token figures are then a ceiling
    (UTF-8 bytes), never below the true count; ``exact`` counts it (explain)."""
    out = dict(body)
    if endpoint == "chat":
        return _completion_over_chat(out, budget, exact)
    prompt = out.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if not isinstance(prompt, str):  # token arrays or batches: nothing to understand
        return _result(_cap_output(out, budget, "block"), 0, 0, "block")
    suffix = out.get("suffix") if isinstance(out.get("suffix"), str) else None
    fim = parse(prompt, suffix)
    if fim is None:  # a plain prompt: the cursor is at its end
        fitted = fit(FimPrompt("suffix", prompt, ""), "suffix", budget.input_tokens, 1.0, exact)
        out["prompt"] = fitted.fim.prefix
        scope = _scope(budget, fitted.fim.prefix, "")
        return _result(_finish(out, budget, scope, None, None), fitted.tokens_before,
                       fitted.tokens_after, scope)
    family = target_family or fim.family
    fitted = fit(fim, family, budget.input_tokens, budget.prefix_share, exact)
    out["prompt"], out_suffix = fitted.rendering or render(fitted.fim, family)
    if out_suffix is None:
        out.pop("suffix", None)
    else:
        out["suffix"] = out_suffix
    scope = _scope(budget, fitted.fim.prefix, fitted.fim.suffix)
    out = _finish(out, budget, scope, fim.family, family)
    return _result(out, fitted.tokens_before, fitted.tokens_after, scope, fitted.fim)


def _completion_over_chat(out: dict[str, Any], budget: TrimBudget, exact: bool) -> TrimResult:
    messages = out.get("messages")
    if not isinstance(messages, list) or not messages:
        return _result(_cap_output(out, budget, "block"), 0, 0, "block")
    last = max((i for i, m in enumerate(messages) if _role(m) == "user"), default=-1)
    msg = messages[last] if last >= 0 else None
    found = _hole_text(msg)
    if found is None:  # no hole to trim around: only the output is capped
        n = sum(estimate(m) for m in messages)
        return _result(_cap_output(out, budget, "block"), n, n, "block")
    key, text = found
    hole = find_hole(text)
    assert hole is not None
    around = text[:hole.start] + hole.mark + text[hole.end:]
    others = [m for i, m in enumerate(messages) if i != last]
    fixed = sum(cost(m) for m in others) + cost(_with_text(msg, key, around))
    new_text, fitted = fit_hole(text, hole, budget.input_tokens - fixed, budget.prefix_share,
                                exact)
    new_messages = list(messages)
    new_messages[last] = _with_text(msg, key, new_text)
    out["messages"] = new_messages
    scope = _scope(budget, fitted.fim.prefix, fitted.fim.suffix)
    return _result(_finish(out, budget, scope, None, None), fixed + fitted.tokens_before,
                   fixed + fitted.tokens_after, scope, fitted.fim)


def _hole_text(msg: Any) -> tuple[Any, str] | None:
    """(where, text) of the message text holding a hole: key None = string content."""
    if not isinstance(msg, dict):
        return None
    content = msg.get("content")
    if isinstance(content, str):
        return (None, content) if find_hole(content) else None
    if isinstance(content, list):
        for i, part in enumerate(content):
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and find_hole(text):
                return i, text
    return None


def _with_text(msg: Any, key: int | None, text: str) -> dict[str, Any]:
    new = dict(msg)
    if key is None:
        new["content"] = text
    else:
        parts = list(new["content"])
        parts[key] = {**parts[key], "text": text}
        new["content"] = parts
    return new


def _scope(budget: TrimBudget, prefix: str, suffix: str) -> str:
    if budget.force_scope is not None:
        return budget.force_scope
    return scopes.decide(prefix, suffix) if budget.scope else scopes.BLOCK


def _finish(out: dict[str, Any], budget: TrimBudget, scope: str, source: str | None,
            family: str | None) -> dict[str, Any]:
    """Stops for the target family (and a newline for "line"), then the output cap."""
    stop = out.get("stop")
    client = [stop] if isinstance(stop, str) else [s for s in stop if isinstance(s, str)] \
        if isinstance(stop, list) else []
    own = client
    ours: list[str] = []
    if source is not None and family is not None and family != source:
        template = vocabulary(source)  # the client's template stops mean nothing to others
        own = [s for s in client if s not in template]
        ours = stop_markers(family)
    if scope == scopes.LINE:
        ours = ["\n", *ours]
        own = [s for s in own if "\n" not in s]  # a newline stop already ends there
    merged: list[str] = []
    for s in own + ours:
        if s and s not in merged:
            merged.append(s)
    merged = [s for s in merged if s in own] + [s for s in merged if s not in own]
    if len(client) <= MAX_STOPS:  # a longer list means the server accepts more: keep all
        merged = merged[:MAX_STOPS]
    if merged != client:
        out["stop"] = merged
    return _cap_output(out, budget, scope)


def _cap_output(out: dict[str, Any], budget: TrimBudget, scope: str) -> dict[str, Any]:
    cap = budget.max_output_tokens
    if scope == scopes.LINE and budget.scope:
        cap = min(cap, LINE_MAX_TOKENS) if cap is not None else LINE_MAX_TOKENS
    if cap is None:
        return out
    present = False
    for key in ("max_tokens", "max_completion_tokens"):
        value = out.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            present = True
            out[key] = min(value, cap)
    if not present:  # servers default to thousands (Continue sends the model's maximum)
        out["max_tokens"] = cap
    return out


# ---------------------------------------------------------------- qa and agentic lanes

def _role(m: Any) -> Any:
    return m.get("role") if isinstance(m, dict) else None


def _is_call(m: Any) -> bool:
    return isinstance(m, dict) and (bool(m.get("tool_calls")) or m.get("type") in
                                    ("function_call", "custom_tool_call", "local_shell_call"))


def _is_result(m: Any) -> bool:
    return isinstance(m, dict) and (m.get("role") == "tool" or
                                    str(m.get("type", "")).endswith("_call_output"))


def _fixed_cost(body: dict[str, Any]) -> int:
    """Tool schemas and Responses instructions: sent every time, never cut."""
    total = 0
    for k in ("tools", "functions", "instructions"):
        if body.get(k):
            total += cost(body[k]) - PER_MESSAGE
    return total


def trim_chat(body: dict[str, Any], budget: TrimBudget) -> TrimResult:
    """qa lane: the newest turns that fit, with the system and last user messages."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _result(body, 0, 0)
    fixed = _fixed_cost(body)
    limit = budget.input_tokens - fixed
    bound, n = upper_and_estimate(messages)
    if bound <= limit:  # fits by bytes alone: nothing to count
        result = _result(body, n, n)
        result.estimated = not fixed  # tool schemas are counted exactly
        return result
    last = max((i for i, m in enumerate(messages) if _role(m) == "user"),
               default=len(messages) - 1)
    required = {i for i, m in enumerate(messages) if _role(m) in ("system", "developer")}
    required.update(range(last, len(messages)))
    work = list(messages)
    costs = {i: cost(work[i], limit + 1) for i in required}
    while sum(costs.values()) > limit:  # required alone too big: cut the largest, middle out
        i = max(costs, key=lambda k: costs[k])
        excess = sum(costs.values()) - limit
        work[i] = shrink(work[i], max(PER_MESSAGE, costs[i] - excess))
        new_cost = cost(work[i], limit + 1)
        if new_cost >= costs[i]:
            break  # nothing left to cut (images): give up on the hard limit, keep the turn
        costs[i] = new_cost
    spans = units(work, _is_call, _is_result)
    kept, used = keep_tail(work, limit, required, spans)
    if len(kept) == len(messages) and all(a is b for a, b in zip(kept, messages, strict=True)):
        return _result(body, used, used)
    kept_ids = {id(m) for m in kept}
    dropped = [m for m in messages if id(m) not in kept_ids]
    before = used + sum(estimate(m) for m in dropped)
    return _result({**body, "messages": kept}, before, used)


def trim_agentic(endpoint: str, body: dict[str, Any], budget: TrimBudget) -> TrimResult:
    """Chat ``messages`` or Responses ``input``: tool outputs capped, then the window."""
    key = "input" if endpoint == "responses" else "messages"
    items = body.get(key)
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]  # counted as such, never rewritten
        key = ""
    if not isinstance(items, list):
        return _result(body, 0, 0)
    window = budget.input_tokens
    cap = budget.tool_output_tokens
    work = list(items)
    changed = False
    each = cap + PER_MESSAGE
    for i, item in enumerate(work):
        if not (_is_result(item) or _is_text_result(item)):
            continue
        if upper(item) > each:  # bytes first: most outputs are small, nothing to count
            work[i] = shrink(item, each)
            changed = changed or work[i] is not item
    fixed = _fixed_cost(body)
    bound, estimated = upper_and_estimate(work)
    if fixed + bound <= window:
        after = fixed + estimated
    else:
        after = fixed + sum(cost(m) for m in work)
        if after > window:
            raise ContextTooLong(after, window)
    before = after
    if changed:
        before = fixed + sum(estimate(m) for m in items)
    out = {**body, key: work} if changed and key else body
    return _result(out, before, after)


def _is_text_result(m: Any) -> bool:
    """Cline-style tool results: a user turn opening with "[tool for 'x'] Result:"."""
    if not isinstance(m, dict) or m.get("role") != "user":
        return False
    content = m.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        content = content[0].get("text")
    if not isinstance(content, str):
        return False
    head = content[:300]
    return head.startswith("[") and "] Result:" in head.split("\n", 1)[0]
