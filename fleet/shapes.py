"""OpenAI wire shapes: JSON bodies and SSE frames for chat, legacy completions, responses.

Streams are built as a list of frames `(bytes, tokens)`; `tokens` is how many generated
tokens the frame carries, which the server uses to pace it (0 = framing, sent at once).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from fleet.answers import Answer
from fleet.inputs import Job

Frame = tuple[bytes, int]
Groups = list[tuple[str, int]]  # (text, tokens) per chunk
DONE: Frame = (b"data: [DONE]\n\n", 0)
FINGERPRINT = "fp_laneway_fleet"


def sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def sse_event(obj: dict[str, Any]) -> bytes:
    return b"event: " + str(obj["type"]).encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def group_pieces(answer: Answer, per_chunk: int, chunks: int | None) -> Groups:
    """Split an answer's streamed text (or tool arguments) into chunks of a few tokens."""
    if answer.tool_call is not None:
        args = answer.tool_call.arguments
        n = max(1, answer.completion_tokens)
        step = max(1, -(-len(args) // n))
        pieces = [args[i : i + step] for i in range(0, len(args), step)] or [""]
    else:
        pieces = list(answer.pieces)
    if not pieces:
        return []
    if chunks:  # a fault asked for an exact number of chunks
        per_chunk = max(1, -(-len(pieces) // chunks))
    return [
        ("".join(pieces[i : i + per_chunk]), len(pieces[i : i + per_chunk]))
        for i in range(0, len(pieces), per_chunk)
    ]


def usage(job: Job) -> dict[str, int]:
    return {
        "prompt_tokens": job.prompt_tokens,
        "completion_tokens": job.completion_tokens,
        "total_tokens": job.prompt_tokens + job.completion_tokens,
    }


def _chat_message(answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    call = answer.tool_call
    if call is None:
        message["content"] = answer.text
    else:
        message["tool_calls"] = [{
            "id": call.call_id, "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }]
    return message


def chat_body(job: Job, rid: str, created: int) -> dict[str, Any]:
    return {
        "id": rid, "object": "chat.completion", "created": created, "model": job.model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"index": i, "message": _chat_message(a), "logprobs": None,
             "finish_reason": a.finish_reason}
            for i, a in enumerate(job.answers)
        ],
        "usage": usage(job),
    }


def chat_stream(job: Job, groups: list[Groups], rid: str, created: int) -> Iterator[Frame]:
    base = {"id": rid, "object": "chat.completion.chunk", "created": created,
            "model": job.model, "system_fingerprint": FINGERPRINT}
    if job.include_usage:
        base["usage"] = None  # OpenAI sends usage: null on every chunk but the last

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**base, "choices": [choice]})

    for index, (answer, chunks) in enumerate(zip(job.answers, groups, strict=True)):
        call = answer.tool_call
        if call is None:
            yield chunk(index, {"role": "assistant", "content": "", "refusal": None}), 0
            for text, tokens in chunks:
                yield chunk(index, {"content": text}), tokens
        else:
            head = {"index": 0, "id": call.call_id, "type": "function",
                    "function": {"name": call.name, "arguments": ""}}
            yield chunk(index, {"role": "assistant", "content": None, "tool_calls": [head]}), 0
            for text, tokens in chunks:
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": text}}]}
                yield chunk(index, delta), tokens
        yield chunk(index, {}, answer.finish_reason), 0
    if job.include_usage:
        yield sse({**base, "choices": [], "usage": usage(job)}), 0
    yield DONE


def completion_body(job: Job, rid: str, created: int) -> dict[str, Any]:
    return {
        "id": rid, "object": "text_completion", "created": created, "model": job.model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {"text": a.text, "index": i, "logprobs": None, "finish_reason": a.finish_reason}
            for i, a in enumerate(job.answers)
        ],
        "usage": usage(job),
    }


def completion_stream(job: Job, groups: list[Groups], rid: str, created: int) -> Iterator[Frame]:
    base = {"id": rid, "object": "text_completion", "created": created, "model": job.model,
            "system_fingerprint": FINGERPRINT}

    def chunk(index: int, text: str, finish: str | None = None) -> bytes:
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
        return sse({**base, "choices": [choice]})

    for index, (answer, chunks) in enumerate(zip(job.answers, groups, strict=True)):
        for text, tokens in chunks:
            yield chunk(index, text), tokens
        yield chunk(index, "", answer.finish_reason), 0
    if job.include_usage:
        yield sse({**base, "choices": [], "usage": usage(job)}), 0
    yield DONE


def _output_item(answer: Answer, rid: str, done: bool) -> dict[str, Any]:
    status = "completed" if done else "in_progress"
    call = answer.tool_call
    if call is not None:
        return {"type": "function_call", "id": call.item_id, "call_id": call.call_id,
                "name": call.name, "arguments": call.arguments if done else "", "status": status}
    content = [{"type": "output_text", "text": answer.text, "annotations": [], "logprobs": []}]
    return {"type": "message", "id": "msg_" + rid.removeprefix("resp_"), "status": status,
            "role": "assistant", "content": content if done else []}


def responses_body(
    job: Job, body: dict[str, Any], rid: str, created: int, done: bool = True
) -> dict[str, Any]:
    answer = job.answers[0]
    incomplete = done and answer.finish_reason == "length"
    status = ("incomplete" if incomplete else "completed") if done else "in_progress"
    return {
        "id": rid, "object": "response", "created_at": created, "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"), "model": job.model,
        "max_output_tokens": job.max_tokens,
        "output": [_output_item(answer, rid, True)] if done else [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "temperature": body.get("temperature", 1.0), "top_p": body.get("top_p", 1.0),
        "tool_choice": body.get("tool_choice", "auto"), "tools": body.get("tools", []),
        "text": {"format": {"type": "text"}}, "truncation": "disabled",
        "metadata": body.get("metadata") or {},
        "usage": {
            "input_tokens": job.prompt_tokens,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": job.completion_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": job.prompt_tokens + job.completion_tokens,
        } if done else None,
    }


def responses_stream(
    job: Job, body: dict[str, Any], groups: list[Groups], rid: str, created: int
) -> Iterator[Frame]:
    answer = job.answers[0]
    seq = iter(range(1 << 30))

    def event(kind: str, **fields: Any) -> bytes:
        return sse_event({"type": kind, "sequence_number": next(seq), **fields})

    pending = responses_body(job, body, rid, created, done=False)
    yield event("response.created", response=pending), 0
    yield event("response.in_progress", response=pending), 0
    item = _output_item(answer, rid, done=False)
    yield event("response.output_item.added", output_index=0, item=item), 0
    at = {"item_id": item["id"], "output_index": 0}
    if answer.tool_call is not None:
        for text, tokens in groups[0]:
            yield event("response.function_call_arguments.delta", **at, delta=text), tokens
        yield event("response.function_call_arguments.done", **at,
                    name=answer.tool_call.name, arguments=answer.tool_call.arguments), 0
    else:
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        yield event("response.content_part.added", **at, content_index=0, part=part), 0
        for text, tokens in groups[0]:
            yield event("response.output_text.delta", **at, content_index=0, delta=text,
                        logprobs=[]), tokens
        yield event("response.output_text.done", **at, content_index=0, text=answer.text,
                    logprobs=[]), 0
        yield event("response.content_part.done", **at, content_index=0,
                    part={**part, "text": answer.text}), 0
    yield event("response.output_item.done", output_index=0,
                item=_output_item(answer, rid, done=True)), 0
    final = responses_body(job, body, rid, created, done=True)
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    yield event(kind, response=final), 0
