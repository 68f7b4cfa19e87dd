"""Anthropic's Messages API in the fleet: request bodies reduced to a `Job`, and answers
(whole or streamed as typed events) with thinking blocks, tool use and cache token usage.

Simulated prompt caching: a request marking any block with `cache_control` is answered
as if three quarters of its prompt were read from the cache, so usage carries both kinds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from fleet.answers import Answer, request_seed, text_answer, tool_call_answer
from fleet.inputs import BadRequest, Job, count_tokens, text_of
from fleet.shapes import Frame, Groups, sse_event

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        parts.append(text_of([block]) + str(block.get("thinking") or ""))
        if block.get("type") == "tool_use":
            parts.append(str(block.get("input") or ""))
        elif block.get("type") == "tool_result":
            parts.append(_blocks_text(block.get("content")))
    return "".join(parts)


def parse_messages(raw: Any) -> Job:
    if not isinstance(raw, dict):
        raise BadRequest("the request body must be a JSON object")
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: Field required", "model")
    max_tokens = raw.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest("max_tokens: Field required (a positive integer)", "max_tokens")
    messages = raw.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: at least one message is required", "messages")
    texts = [_blocks_text(raw.get("system"))]
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant", "system"):
            raise BadRequest(f"messages.{i}.role: must be 'user', 'assistant' or 'system'",
                             f"messages.{i}")
        texts.append(_blocks_text(m.get("content")))
    last = messages[-1].get("content")
    answered_tool = isinstance(last, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last)
    tools = [(t["name"], t.get("input_schema")) for t in raw.get("tools") or ()
             if isinstance(t, dict) and isinstance(t.get("name"), str)]
    choice = raw.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "tool":
        tools = [t for t in tools if t[0] == choice.get("name")] or tools
    seed = request_seed(raw)
    stream = raw.get("stream") is True
    answer: Answer
    if tools and not answered_tool and not (isinstance(choice, dict)
                                            and choice.get("type") == "none"):
        answer = tool_call_answer(seed, *tools[0])
    else:
        stop = raw.get("stop_sequences")
        stops = tuple(s for s in stop if isinstance(s, str)) if isinstance(stop, list) else ()
        answer = text_answer(seed, code=False, max_tokens=max_tokens, stop=stops)
    return Job("messages", model, stream, True, seed, count_tokens("".join(texts)), max_tokens,
               (answer,), has_tools=bool(tools))


def _cached(body: Any) -> bool:
    return b'"cache_control"' in orjson.dumps(body)


def usage(job: Job, body: Any) -> dict[str, int]:
    read = job.prompt_tokens * 3 // 4 if _cached(body) else 0
    return {"input_tokens": job.prompt_tokens - read, "output_tokens": job.completion_tokens,
            "cache_read_input_tokens": read, "cache_creation_input_tokens": 0}


def _thinking(job: Job, body: Any) -> dict[str, Any] | None:
    spec = body.get("thinking") if isinstance(body, dict) else None
    if not isinstance(spec, dict) or spec.get("type") not in ("enabled", "adaptive"):
        return None
    signature = hashlib.blake2b(str(job.seed).encode(), digest_size=12).hexdigest()
    return {"type": "thinking", "thinking": "Weighing the request.", "signature": "sig" + signature}


def _tool_use(answer: Answer) -> dict[str, Any]:
    call = answer.tool_call
    assert call is not None
    return {"type": "tool_use", "id": "toolu_" + call.call_id.removeprefix("call_"),
            "name": call.name, "input": orjson.loads(call.arguments)}


def messages_body(job: Job, body: Any, rid: str, created: int) -> dict[str, Any]:
    answer = job.answers[0]
    content: list[dict[str, Any]] = []
    thinking = _thinking(job, body)
    if thinking is not None:
        content.append(thinking)
    content.append(_tool_use(answer) if answer.tool_call else {"type": "text", "text": answer.text})
    return {"id": "msg_" + rid, "type": "message", "role": "assistant", "model": job.model,
            "content": content, "stop_reason": _STOP[answer.finish_reason],
            "stop_sequence": None, "usage": usage(job, body)}


def messages_stream(
    job: Job, body: Any, groups: list[Groups], rid: str, created: int
) -> Iterator[Frame]:
    answer = job.answers[0]
    full = usage(job, body)
    start: dict[str, Any] = {
             "id": "msg_" + rid, "type": "message", "role": "assistant", "model": job.model,
             "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**full, "output_tokens": 1}}
    yield sse_event({"type": "message_start", "message": start}), 0
    yield sse_event({"type": "ping"}), 0
    index = 0
    thinking = _thinking(job, body)
    if thinking is not None:
        yield sse_event({"type": "content_block_start", "index": 0,
                         "content_block": {**thinking, "thinking": "", "signature": ""}}), 0
        yield sse_event({"type": "content_block_delta", "index": 0, "delta": {
            "type": "thinking_delta", "thinking": thinking["thinking"]}}), 1
        yield sse_event({"type": "content_block_delta", "index": 0, "delta": {
            "type": "signature_delta", "signature": thinking["signature"]}}), 0
        yield sse_event({"type": "content_block_stop", "index": 0}), 0
        index = 1
    if answer.tool_call is not None:
        block = {**_tool_use(answer), "input": {}}
        kind, field = "input_json_delta", "partial_json"
    else:
        block, kind, field = {"type": "text", "text": ""}, "text_delta", "text"
    yield sse_event({"type": "content_block_start", "index": index, "content_block": block}), 0
    for text, tokens in groups[0]:
        yield sse_event({"type": "content_block_delta", "index": index,
                         "delta": {"type": kind, field: text}}), tokens
    yield sse_event({"type": "content_block_stop", "index": index}), 0
    yield sse_event({"type": "message_delta", "usage": {"output_tokens": job.completion_tokens},
                     "delta": {"stop_reason": _STOP[answer.finish_reason],
                               "stop_sequence": None}}), 0
    yield sse_event({"type": "message_stop"}), 0


def anthropic_error(resp: web.Response) -> web.Response:
    """An OpenAI-shaped error answer in Anthropic's shape (same status and headers)."""
    error = orjson.loads(resp.body) if isinstance(resp.body, bytes) else {}
    return web.Response(body=_error_payload(error, resp.status), status=resp.status,
                        headers={k: v for k, v in resp.headers.items()
                                 if k.lower() != "content-length"})


def anthropic_error_event(error: dict[str, Any]) -> bytes:
    return b"event: error\ndata: " + _error_payload(error, 500) + b"\n\n"


_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
          529: "overloaded_error"}


def _error_payload(error: Any, status: int) -> bytes:
    inner = error.get("error") if isinstance(error, dict) else None
    message = inner.get("message") if isinstance(inner, dict) else None
    return orjson.dumps({"type": "error", "error": {
        "type": _TYPES.get(status, "api_error"), "message": str(message or "error")}})
