"""Conversations within a budget: chat ``messages`` and Responses ``input`` items.

A message's cost is its text (exact cl100k count) plus a fixed per-message overhead, images
at a fixed price. Counting is exact wherever a keep/drop decision depends on it, but a
conversation whose byte length is under the budget is passed without counting at all
(a token is never shorter than a byte).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from policies import tokens
from policies.trim_text import head_tail

PER_MESSAGE = 4  # role and framing tokens per message, as OpenAI's chat format charges
IMAGE_TOKENS = 765  # a 1024x1024 image at OpenAI's "high" detail; images are not cut
_IMAGE_TYPES = frozenset({"image_url", "input_image", "image"})
# Identifiers and payloads the model never reads as text.
_SKIP_KEYS = frozenset({"type", "role", "id", "call_id", "tool_call_id", "status",
                        "image_url", "file_data", "file_id", "detail", "cache_control",
                        # Messages: an image's or document's bytes, a tool result's call,
                        # a thinking block's opaque signature.
                        "source", "tool_use_id", "signature"})
# Never cut: a call's name or arguments (cut JSON is a broken call), nor reasoning blobs.
_UNCUT_KEYS = _SKIP_KEYS | {"tool_calls", "function_call", "name", "arguments",
                            "encrypted_content"}


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if key not in _SKIP_KEYS:
                yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def _images(obj: Any) -> int:
    if isinstance(obj, dict):
        kind = obj.get("type")  # any JSON value: a list here is not hashable
        own = 1 if isinstance(kind, str) and kind in _IMAGE_TYPES else 0
        return own + sum(_images(v) for k, v in obj.items() if k not in _SKIP_KEYS)
    if isinstance(obj, list):
        return sum(_images(v) for v in obj)
    return 0


def upper(obj: Any) -> int:
    """A ceiling on ``cost(obj)`` that costs no tokenizing."""
    up, _, images = _sizes(obj)
    return PER_MESSAGE + up + IMAGE_TOKENS * images


def estimate(obj: Any) -> int:
    _, est, images = _sizes(obj)
    return PER_MESSAGE + est + IMAGE_TOKENS * images


def _sizes(obj: Any) -> tuple[int, int, int]:
    """(upper bounds, estimates, images) over ``obj``'s strings (not under `_SKIP_KEYS`),
    in one walk: what ``upper`` and ``estimate`` add up."""
    if isinstance(obj, str):
        return (tokens.upper_bound(obj), tokens.estimate(obj), 0) if obj else (0, 0, 0)
    up = est = images = 0
    if isinstance(obj, dict):
        kind = obj.get("type")
        if isinstance(kind, str) and kind in _IMAGE_TYPES:
            images = 1
        values: Any = [v for k, v in obj.items() if k not in _SKIP_KEYS]
    elif isinstance(obj, list):
        values = obj
    else:
        return 0, 0, 0
    for v in values:
        if isinstance(v, str):
            if v:
                up += tokens.upper_bound(v)
                est += tokens.estimate(v)
        elif isinstance(v, dict | list):
            u, e, i = _sizes(v)
            up, est, images = up + u, est + e, images + i
    return up, est, images


def upper_and_estimate(objs: list[Any]) -> tuple[int, int]:
    """``sum(upper(o) for o in objs)`` and ``sum(estimate(o) for o in objs)``, one walk."""
    up = est = 0
    for obj in objs:
        u, e, images = _sizes(obj)
        up += PER_MESSAGE + u + IMAGE_TOKENS * images
        est += PER_MESSAGE + e + IMAGE_TOKENS * images
    return up, est


def cost(obj: Any, limit: int | None = None) -> int:
    """Exact cost of one message or item (exact up to ``limit``, then just "over")."""
    total = PER_MESSAGE + IMAGE_TOKENS * _images(obj)
    for s in _strings(obj):
        total += tokens.count(s) if limit is None else tokens.count_upto(s, limit)
        if limit is not None and total > limit:
            return total
    return total


def _largest_text(obj: Any) -> tuple[Any, Any, str] | None:
    """(container, key, text) of the largest string a message holds, to cut it in place."""
    best: tuple[Any, Any, str] | None = None
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in pairs:
            if isinstance(node, dict) and key in _UNCUT_KEYS:
                continue
            if isinstance(value, str):
                if best is None or len(value) > len(best[2]):
                    best = (node, key, value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return best


def _copy(obj: Any) -> Any:
    """Copy the containers (not the strings) so a cut never touches the client's body."""
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    return obj


def shrink(msg: Any, limit: int) -> Any:
    """``msg`` with its largest text cut to head + tail so the message costs <= ``limit``.

    Returns the message unchanged when it already fits or holds nothing that can be cut
    (images only); the caller decides what that means.
    """
    for _ in range(16):  # one string per round; messages rarely hold more than a few
        if cost(msg, limit) <= limit:
            return msg
        new = _copy(msg)
        found = _largest_text(new) if isinstance(new, dict | list) else None
        if found is None or not found[2]:
            return msg
        node, key, text = found
        node[key] = ""
        room = limit - cost(new, limit)  # what the rest of the message leaves for this text
        # The message is over and the rest costs limit - room, so this text is over room.
        node[key] = head_tail(text, room, over=True) if room > 0 else ""
        if room > 0:
            return new
        msg = new
    return msg


def units(messages: list[Any], is_call: Any, is_result: Any) -> list[tuple[int, int]]:
    """[start, end) spans that must stay together: a tool call and the results after it."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(messages):
        j = i + 1
        if is_call(messages[i]):
            while j < len(messages) and is_result(messages[j]):
                j += 1
        spans.append((i, j))
        i = j
    return spans


def keep_tail(messages: list[Any], budget: int, required: set[int],
              spans: list[tuple[int, int]]) -> tuple[list[Any], int]:
    """Required messages plus the newest spans that fit, the kept spans contiguous."""
    costs: dict[int, int] = {}
    for i in required:
        costs[i] = cost(messages[i], budget + 1)
    room = budget - sum(costs.values())
    keep = set(required)
    for start, end in reversed(spans):
        free = [i for i in range(start, end) if i not in required]
        if not free:
            continue
        if room <= 0:
            break
        need = 0
        for i in free:
            need += cost(messages[i], room - need)
            if need > room:
                break
        if need > room:
            break  # the oldest turns go; what remains is a contiguous recent tail
        room -= need
        keep.update(free)
    kept = [m for i, m in enumerate(messages) if i in keep]
    return kept, budget - room
