"""Streams, both ways, as small state machines fed the upstream's bytes as they come.

`ChatToMessages`: OpenAI chat chunks -> Messages events (message_start, content blocks
opened and closed around text, thinking and tool calls, message_delta, message_stop).
`MessagesToChat`: Messages events -> chat chunks ending with `data: [DONE]`.
Each `feed(chunk)` returns the translated bytes ready so far (often b"": a frame may span
chunks); an upstream error event becomes the client's own error frame, with no end marker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from router.translate.messages_answer import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    chat_usage,
    message_id,
    messages_usage,
)


class _Frames:
    """Splits SSE bytes into the JSON payloads of complete frames (`[DONE]` as None)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> Iterator[tuple[bytes, Any]]:
        data = self._buffer + chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        *frames, self._buffer = data.split(b"\n\n")
        for frame in frames:
            event = b""
            payload = b""
            for line in frame.split(b"\n"):
                if line.startswith(b"data:"):
                    payload += line[5:].strip()
                elif line.startswith(b"event:"):
                    event = line[6:].strip()
            if payload == b"[DONE]":
                yield event, None
            elif payload:
                try:
                    yield event, orjson.loads(payload)
                except orjson.JSONDecodeError:
                    continue


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def anthropic_error_event(message: str, kind: str = "api_error") -> bytes:
    return event("error", {"type": "error", "error": {"type": kind, "message": message}})


class ChatToMessages:
    def __init__(self, model: str) -> None:
        self._frames = _Frames()
        self._model = model
        self._started = False
        self._block: str | None = None  # "text" | "thinking" | "tool" (the open block)
        self._index = -1
        self._tools: dict[int, int] = {}  # chat tool_call index -> block index
        self._stop = "end_turn"
        self._usage: dict[str, int] = {"input_tokens": 0, "output_tokens": 0}
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for _, obj in self._frames.feed(chunk):
            if obj is None:
                self._finish(out)
            elif isinstance(obj, dict):
                self._chunk(obj, out)
        return b"".join(out)

    def _start(self, obj: dict[str, Any], out: list[bytes]) -> None:
        self._started = True
        message: dict[str, Any] = {
            "id": message_id(obj.get("id")), "type": "message", "role": "assistant",
            "model": obj.get("model") or self._model, "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        out.append(event("message_start", {"type": "message_start", "message": message}))
        out.append(event("ping", {"type": "ping"}))

    def _open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        self._close(out)
        self._index += 1
        self._block = kind
        out.append(event("content_block_start", {"type": "content_block_start",
                                                 "index": self._index, "content_block": block}))

    def _close(self, out: list[bytes]) -> None:
        if self._block is not None:
            out.append(event("content_block_stop",
                             {"type": "content_block_stop", "index": self._index}))
            self._block = None

    def _delta(self, delta: dict[str, Any], index: int, out: list[bytes]) -> None:
        out.append(event("content_block_delta",
                         {"type": "content_block_delta", "index": index, "delta": delta}))

    def _chunk(self, obj: dict[str, Any], out: list[bytes]) -> None:
        if "error" in obj and "choices" not in obj:
            err = obj["error"]
            message = err.get("message") if isinstance(err, dict) else str(err)
            out.append(anthropic_error_event(str(message or "The model failed.")))
            return
        if not self._started:
            self._start(obj, out)
        if isinstance(obj.get("usage"), dict):
            self._usage = messages_usage(obj["usage"])
        for choice in obj.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                if self._block != "thinking":
                    self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""},
                               out)
                self._delta({"type": "thinking_delta", "thinking": reasoning}, self._index, out)
            text = delta.get("content")
            if isinstance(text, str) and text:
                if self._block != "text":
                    self._open("text", {"type": "text", "text": ""}, out)
                self._delta({"type": "text_delta", "text": text}, self._index, out)
            for call in delta.get("tool_calls") or ():
                self._tool(call, out)
            finish = choice.get("finish_reason")
            if finish:
                self._stop = FINISH_TO_STOP.get(finish, "end_turn")

    def _tool(self, call: Any, out: list[bytes]) -> None:
        if not isinstance(call, dict):
            return
        at = call.get("index", 0)
        fn = call.get("function") or {}
        if at not in self._tools:
            self._open("tool", {"type": "tool_use", "id": str(call.get("id") or f"toolu_{at}"),
                                "name": str(fn.get("name") or ""), "input": {}}, out)
            self._tools[at] = self._index
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            # Arguments of an earlier call arriving late go to that call's block: deltas
            # carry their block's index, so interleaving stays well-formed.
            self._delta({"type": "input_json_delta", "partial_json": args}, self._tools[at], out)

    def _finish(self, out: list[bytes]) -> None:
        if not self._started:
            self._start({}, out)
        self._close(out)
        out.append(event("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": self._stop, "stop_sequence": None},
            "usage": self._usage,
        }))
        out.append(event("message_stop", {"type": "message_stop"}))
        self.done = True


class MessagesToChat:
    def __init__(self, model: str, include_usage: bool) -> None:
        self._frames = _Frames()
        self._include_usage = include_usage
        self._base: dict[str, Any] = {"id": "chatcmpl-", "object": "chat.completion.chunk",
                                      "created": int(time.time()), "model": model}
        self._tools: dict[int, int] = {}  # block index -> chat tool_call index
        self._usage: dict[str, Any] = {}
        self._finish = "stop"
        self.done = False

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**self._base, "choices": [choice]}) + b"\n\n"

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for kind, obj in self._frames.feed(chunk):
            if isinstance(obj, dict):
                self._event(obj.get("type") or kind.decode(), obj, out)
        return b"".join(out)

    def _event(self, kind: str, obj: dict[str, Any], out: list[bytes]) -> None:
        if kind == "message_start":
            message = obj.get("message") or {}
            self._base["id"] = "chatcmpl-" + str(message.get("id") or "").removeprefix("msg_")
            self._base["model"] = message.get("model") or self._base["model"]
            self._usage = dict(message.get("usage") or {})
            out.append(self._chunk({"role": "assistant", "content": ""}))
        elif kind == "content_block_start":
            block = obj.get("content_block") or {}
            if block.get("type") == "tool_use":
                at = self._tools[obj.get("index", 0)] = len(self._tools)
                out.append(self._chunk({"tool_calls": [{
                    "index": at, "id": block.get("id"), "type": "function",
                    "function": {"name": block.get("name"), "arguments": ""}}]}))
        elif kind == "content_block_delta":
            self._content(obj, out)
        elif kind == "message_delta":
            delta = obj.get("delta") or {}
            if delta.get("stop_reason"):
                self._finish = STOP_TO_FINISH.get(delta["stop_reason"], "stop")
            usage = obj.get("usage")
            if isinstance(usage, dict):
                self._usage.update({k: v for k, v in usage.items() if v is not None})
        elif kind == "message_stop":
            out.append(self._chunk({}, self._finish))
            if self._include_usage:
                out.append(b"data: " + orjson.dumps(
                    {**self._base, "choices": [], "usage": chat_usage(self._usage)}) + b"\n\n")
            out.append(b"data: [DONE]\n\n")
            self.done = True
        elif kind == "error":
            err = obj.get("error") or {}
            message = err.get("message") if isinstance(err, dict) else None
            out.append(b"data: " + orjson.dumps({"error": {
                "message": str(message or "The model failed."), "type": "upstream_error",
                "param": None, "code": "upstream_error"}}) + b"\n\n")

    def _content(self, obj: dict[str, Any], out: list[bytes]) -> None:
        delta = obj.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            out.append(self._chunk({"content": delta.get("text") or ""}))
        elif kind == "input_json_delta":
            at = self._tools.get(obj.get("index", 0))
            if at is not None:
                out.append(self._chunk({"tool_calls": [{
                    "index": at, "function": {"arguments": delta.get("partial_json") or ""}}]}))
        elif kind == "thinking_delta":
            out.append(self._chunk({"reasoning_content": delta.get("thinking") or ""}))
