"""Upstream answers as OpenAI-compatible servers stream them, for the cache tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

from cache.assemble import StreamAssembler
from cache.sse import EventSplitter

BASE = {"id": "chatcmpl-42", "created": 1700000000, "model": "qwen-coder",
        "system_fingerprint": "fp_abc"}
USAGE = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}


def sse(payload: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n".encode() if name else b""
    return head + b"data: " + orjson.dumps(payload) + b"\n\n"


def chat_chunks(
    content: list[str], *, usage: bool = True, finish: str = "stop", done: bool = True
) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse(BASE | {"object": "chat.completion.chunk", "choices": [choice]})

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": piece}) for piece in content]
    out.append(chunk({}, finish))
    if usage:
        out.append(sse(BASE | {"object": "chat.completion.chunk", "choices": [], "usage": USAGE}))
    if done:
        out.append(b"data: [DONE]\n\n")
    return out


def tool_call_chunks() -> list[bytes]:
    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return sse(BASE | {"object": "chat.completion.chunk", "choices": [choice]})

    def call(index: int, **fields: Any) -> dict[str, Any]:
        return {"tool_calls": [{"index": index, **fields}]}

    return [
        chunk({"role": "assistant", "content": None}),
        chunk(call(0, id="call_a", type="function", function={"name": "read", "arguments": ""})),
        chunk(call(0, function={"arguments": '{"path": '})),
        chunk(call(1, id="call_b", type="function", function={"name": "grep", "arguments": ""})),
        chunk(call(0, function={"arguments": '"a.py"}'})),
        chunk(call(1, function={"arguments": '{"q": "x"}'})),
        chunk({}, "tool_calls"),
        sse(BASE | {"object": "chat.completion.chunk", "choices": [], "usage": USAGE}),
        b"data: [DONE]\n\n",
    ]


def completion_chunks(pieces: list[str], *, usage: bool = True) -> list[bytes]:
    base = BASE | {"id": "cmpl-7", "object": "text_completion"}
    out = [sse(base | {"choices": [{"text": p, "index": 0, "logprobs": None,
                                    "finish_reason": None}]}) for p in pieces]
    out.append(sse(base | {"choices": [{"text": "", "index": 0, "logprobs": None,
                                        "finish_reason": "stop"}]}))
    if usage:
        out.append(sse(base | {"choices": [], "usage": USAGE}))
    out.append(b"data: [DONE]\n\n")
    return out


def completion_body(text: str) -> dict[str, Any]:
    return BASE | {"id": "cmpl-7", "object": "text_completion",
                   "choices": [{"text": text, "index": 0, "logprobs": None,
                                "finish_reason": "stop"}], "usage": USAGE}


def response_object(text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_1", "object": "response", "created_at": 1700000000, "status": status,
        "model": "gpt-x", "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
             "content": [{"type": "output_text", "text": text, "annotations": []}]},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "ls",
             "arguments": '{"dir": "."}', "status": "completed"},
        ],
        "usage": {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14},
    }


def response_events(text: str, *, final: str = "response.completed") -> list[bytes]:
    obj = response_object(text)
    pending = obj | {"status": "in_progress", "output": [], "usage": None}
    out = [sse({"type": "response.created", "response": pending, "sequence_number": 0},
               "response.created")]
    for i, piece in enumerate((text[:3], text[3:])):
        out.append(sse({"type": "response.output_text.delta", "item_id": "msg_1",
                        "output_index": 1, "content_index": 0, "delta": piece,
                        "sequence_number": i + 1}, "response.output_text.delta"))
    if final == "response.failed":
        failed = obj | {"status": "failed", "error": {"code": "server_error", "message": "x"}}
        out.append(sse({"type": final, "response": failed, "sequence_number": 3}, final))
    else:
        out.append(sse({"type": final, "response": obj, "sequence_number": 3}, final))
    return out


def assemble(kind: str, chunks: list[bytes]) -> dict[str, Any] | None:
    assembler = StreamAssembler(kind)
    splitter = EventSplitter()
    for chunk in chunks:
        for event in splitter.feed(chunk):
            assembler.feed(event)
    for event in splitter.flush():
        assembler.feed(event)
    return assembler.response_object()


def chat_summary(obj: dict[str, Any]) -> tuple[Any, ...]:
    """What "replays identically" compares: text, tool calls, finish_reason, usage."""
    choice = obj["choices"][0]
    msg = choice["message"]
    return (msg.get("content"), msg.get("tool_calls"), choice["finish_reason"], obj.get("usage"))


class Upstream:
    """A fake upstream call: counts calls, can be slow, can fail, can be held mid-stream."""

    def __init__(self, chunks: list[bytes], *, delay: float = 0.0,
                 fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.delay = delay
        self.fail_after = fail_after
        self.calls = 0
        self.closed = 0
        self.gate: asyncio.Event | None = None  # when set up, chunk 1+ wait for it

    async def stream(self) -> AsyncIterator[bytes]:
        self.calls += 1
        try:
            for i, chunk in enumerate(self.chunks):
                if self.fail_after is not None and i == self.fail_after:
                    raise ConnectionResetError("upstream went away")
                if i and self.gate is not None:
                    await self.gate.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)  # the model's generation time, not a sync
                yield chunk
        finally:
            self.closed += 1
