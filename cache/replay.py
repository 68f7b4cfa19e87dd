"""Replay a stored answer as the SSE stream a streamed request expects.

Chat: a role chunk, one chunk with the text fields (content, refusal, reasoning...) and
logprobs, one chunk per tool call, a finish chunk; then, only when the request asked for
`stream_options.include_usage`, the usage chunk (`choices: []`) — and, as OpenAI does in
that mode, `usage: null` on every other chunk; then `[DONE]`. Every chunk carries the
original's `id`, `created`, `model`, `system_fingerprint` and other top-level fields.
Text completions: a text chunk and a finish chunk per choice, the same usage rule, `[DONE]`.
Responses API: the event sequence (`response.created` ... `response.completed`) with
increasing `sequence_number`; no `[DONE]`, as OpenAI ends these streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cache.messages import render_messages
from cache.sse import DONE_FRAME, frame

_NOT_TOP = frozenset({"choices", "usage", "object"})


def render_sse(kind: str, obj: dict[str, Any], include_usage: bool) -> Iterator[bytes]:
    if kind == "responses":
        yield from _responses(obj)
    elif kind == "messages":
        yield from render_messages(obj)
    elif kind == "chat":
        yield from _chat(obj, include_usage)
    else:
        yield from _completions(obj, include_usage)


def _base(obj: dict[str, Any], chunk_object: str, include_usage: bool) -> dict[str, Any]:
    base = {k: v for k, v in obj.items() if k not in _NOT_TOP}
    base["object"] = chunk_object
    if include_usage:
        base["usage"] = None
    return base


def _usage_chunk(base: dict[str, Any], obj: dict[str, Any], include_usage: bool) -> Iterator[bytes]:
    if include_usage and isinstance(obj.get("usage"), dict):
        yield frame(base | {"choices": [], "usage": obj["usage"]})


def _chat(obj: dict[str, Any], include_usage: bool) -> Iterator[bytes]:
    base = _base(obj, "chat.completion.chunk", include_usage)

    def chunk(index: int, delta: dict[str, Any], **extra: Any) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": None}
        return frame(base | {"choices": [choice | extra]})

    for choice in obj.get("choices") or ():
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        # `content: null` opens a tool-call-only answer, as OpenAI streams it.
        opening = "" if isinstance(message.get("content"), str) else None
        yield chunk(index, {"role": message.get("role") or "assistant", "content": opening})
        texts = {
            k: v
            for k, v in message.items()
            if k not in ("role", "tool_calls") and v is not None and v != ""
        }
        if texts or choice.get("logprobs"):
            yield chunk(index, texts, logprobs=choice.get("logprobs"))
        for n, call in enumerate(message.get("tool_calls") or ()):
            yield chunk(index, {"tool_calls": [{"index": n, **call}]})
        yield chunk(index, {}, finish_reason=choice.get("finish_reason"))
    yield from _usage_chunk(base, obj, include_usage)
    yield DONE_FRAME


def _completions(obj: dict[str, Any], include_usage: bool) -> Iterator[bytes]:
    base = _base(obj, "text_completion", include_usage)
    for choice in obj.get("choices") or ():
        index = choice.get("index", 0)
        text = {"text": choice.get("text") or "", "index": index}
        yield frame(base | {"choices": [text | {"logprobs": choice.get("logprobs"),
                                                "finish_reason": None}]})
        end = {"text": "", "index": index, "logprobs": None,
               "finish_reason": choice.get("finish_reason")}
        yield frame(base | {"choices": [end]})
    yield from _usage_chunk(base, obj, include_usage)
    yield DONE_FRAME


def _responses(obj: dict[str, Any]) -> Iterator[bytes]:
    seq = 0

    def event(name: str, **fields: Any) -> bytes:
        nonlocal seq
        payload = {"type": name, **fields, "sequence_number": seq}
        seq += 1
        return frame(payload, name)

    pending = obj | {"status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=pending)
    yield event("response.in_progress", response=pending)
    for out_index, item in enumerate(obj.get("output") or ()):
        yield from _response_item(event, out_index, item)
    final = "response.incomplete" if obj.get("status") == "incomplete" else "response.completed"
    yield event(final, response=obj)


def _response_item(event: Any, out_index: int, item: dict[str, Any]) -> Iterator[bytes]:
    kind = item.get("type")
    item_id = item.get("id")
    where = {"item_id": item_id, "output_index": out_index}
    if kind == "message":
        yield event("response.output_item.added", output_index=out_index,
                    item=item | {"status": "in_progress", "content": []})
        for c_index, part in enumerate(item.get("content") or ()):
            at = where | {"content_index": c_index}
            if part.get("type") == "output_text":
                yield event("response.content_part.added", **at, part=part | {"text": ""})
                text = part.get("text", "")
                yield event("response.output_text.delta", **at, delta=text,
                            logprobs=part.get("logprobs") or [])
                yield event("response.output_text.done", **at, text=text,
                            logprobs=part.get("logprobs") or [])
            elif part.get("type") == "refusal":
                yield event("response.content_part.added", **at, part=part | {"refusal": ""})
                yield event("response.refusal.delta", **at, delta=part.get("refusal", ""))
                yield event("response.refusal.done", **at, refusal=part.get("refusal", ""))
            else:
                yield event("response.content_part.added", **at, part=part)
            yield event("response.content_part.done", **at, part=part)
    elif kind == "function_call":
        yield event("response.output_item.added", output_index=out_index,
                    item=item | {"status": "in_progress", "arguments": ""})
        args = item.get("arguments", "")
        yield event("response.function_call_arguments.delta", **where, delta=args)
        yield event("response.function_call_arguments.done", **where, arguments=args)
    else:
        yield event("response.output_item.added", output_index=out_index, item=item)
    yield event("response.output_item.done", output_index=out_index, item=item)
