"""Messages answers in the cache: a stream assembled into the message a non-streamed request
gets, and a stored message replayed as Messages events.

Complete only when the stream said so (`message_stop` after a `stop_reason`) and carried no
`error` event. Thinking blocks keep their signatures; tool inputs are parsed from their
streamed JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from cache.sse import Event


class MessagesAssembler:
    __slots__ = ("_blocks", "_done", "_error", "_json", "_message")

    def __init__(self) -> None:
        self._message: dict[str, Any] | None = None
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json: dict[int, str] = {}  # a tool_use block's streamed input
        self._done = False
        self._error = False

    def feed(self, event: Event, payload: Any) -> None:
        if self._error or not isinstance(payload, dict):
            return
        kind = payload.get("type") or event.name
        index = payload.get("index", 0)
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            self._message = dict(payload["message"])
        elif kind == "content_block_start" and isinstance(payload.get("content_block"), dict):
            self._blocks[index] = dict(payload["content_block"])
        elif kind == "content_block_delta":
            self._delta(self._blocks.get(index), index, payload.get("delta") or {})
        elif kind == "message_delta" and self._message is not None:
            self._message.update(payload.get("delta") or {})
            usage = payload.get("usage")
            if isinstance(usage, dict):
                merged = dict(self._message.get("usage") or {})
                merged.update({k: v for k, v in usage.items() if v is not None})
                self._message["usage"] = merged
        elif kind == "message_stop":
            self._done = True
        elif kind == "error":
            self._error = True

    def _delta(self, block: dict[str, Any] | None, index: int, delta: dict[str, Any]) -> None:
        if block is None:
            return
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = block.get("text", "") + str(delta.get("text") or "")
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + str(delta.get("thinking") or "")
        elif kind == "signature_delta":
            block["signature"] = str(delta.get("signature") or "")
        elif kind == "input_json_delta":
            self._json[index] = self._json.get(index, "") + str(delta.get("partial_json") or "")

    @property
    def complete(self) -> bool:
        m = self._message
        return self._done and not self._error and m is not None and bool(m.get("stop_reason"))

    def message(self) -> dict[str, Any] | None:
        if not self.complete:
            return None
        assert self._message is not None
        content = []
        for index in sorted(self._blocks):
            block = self._blocks[index]
            if index in self._json:
                try:
                    block["input"] = orjson.loads(self._json[index] or "{}")
                except orjson.JSONDecodeError:
                    return None  # a broken call is not an answer to keep
            content.append(block)
        return {**self._message, "content": content}


def usable_message(obj: Any) -> bool:
    """A non-streamed Messages answer worth storing."""
    return isinstance(obj, dict) and obj.get("type") == "message" and bool(
        obj.get("stop_reason")) and isinstance(obj.get("content"), list)


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(
        {"type": kind, **payload}) + b"\n\n"


def render_messages(obj: dict[str, Any]) -> Iterator[bytes]:
    """A stored message as the events a streamed request expects, one delta per block."""
    usage: dict[str, Any] = obj["usage"] if isinstance(obj.get("usage"), dict) else {}
    head = {k: v for k, v in obj.items() if k not in ("content", "stop_reason",
                                                      "stop_sequence", "usage")}
    yield _event("message_start", {"message": {
        **head, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1}}})
    for index, block in enumerate(obj.get("content") or ()):
        kind = block.get("type")
        if kind == "text":
            start, delta = {**block, "text": ""}, {"type": "text_delta", "text": block["text"]}
        elif kind == "thinking":
            start = {**block, "thinking": "", "signature": ""}
            delta = {"type": "thinking_delta", "thinking": block.get("thinking", "")}
        elif kind == "tool_use":
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta",
                     "partial_json": orjson.dumps(block.get("input") or {}).decode()}
        else:  # redacted thinking and other whole blocks arrive whole
            start, delta = block, None
        yield _event("content_block_start", {"index": index, "content_block": start})
        if delta is not None:
            yield _event("content_block_delta", {"index": index, "delta": delta})
        if kind == "thinking" and block.get("signature"):
            yield _event("content_block_delta", {"index": index, "delta": {
                "type": "signature_delta", "signature": block["signature"]}})
        yield _event("content_block_stop", {"index": index})
    yield _event("message_delta", {
        "delta": {"stop_reason": obj.get("stop_reason"),
                  "stop_sequence": obj.get("stop_sequence")},
        "usage": {"output_tokens": usage.get("output_tokens", 0)}})
    yield _event("message_stop", {})
