"""Turn a recorded SSE stream back into the response object a non-streamed request gets.

Chat and text completions: chunks merge the way the OpenAI SDK accumulates them (strings
concatenate, tool calls merge by `index`, `role`/`id`/`type` are set, not concatenated),
`usage` comes from its own chunk, and every other top-level field (`id`, `created`,
`model`, `system_fingerprint`, `service_tier`, ...) is kept. Responses API: the final
`response.completed` (or `response.incomplete`) event already carries the whole object.

An answer is complete only when the stream said so (`[DONE]` with a `finish_reason` on
every choice, or the final Responses event) and carried no error event: anything else
(cut by the client, by the upstream, or failed) yields no answer, so it is never stored.
"""

from __future__ import annotations

from typing import Any

import orjson

from cache.answer import StoredAnswer
from cache.messages import MessagesAssembler, usable_message
from cache.sse import Event

_SET_KEYS = frozenset({"index", "type", "role", "id"})
_CHUNK_OBJECTS = {"chat": "chat.completion", "completions": "text_completion"}
_FINAL_EVENTS = ("response.completed", "response.incomplete")


def merge_delta(acc: dict[str, Any], delta: dict[str, Any]) -> None:
    for key, value in delta.items():
        old = acc.get(key)
        if old is None or key in _SET_KEYS:
            if value is not None or key not in acc:
                acc[key] = value
        elif isinstance(old, str) and isinstance(value, str):
            acc[key] = old + value
        elif isinstance(old, dict) and isinstance(value, dict):
            merge_delta(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            _merge_list(old, value)
        elif value is not None:
            acc[key] = value


def _merge_list(acc: list[Any], items: list[Any]) -> None:
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("index"), int):
            for existing in acc:
                if isinstance(existing, dict) and existing.get("index") == item["index"]:
                    merge_delta(existing, item)
                    break
            else:
                acc.append(dict(item))
        else:
            acc.append(item)


class StreamAssembler:
    """Feed it a stream's events in order; `answer()` is the stored form, if it completed."""

    __slots__ = ("_choices", "_done", "_error", "_final", "_messages", "_top", "_usage", "kind")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._messages = MessagesAssembler() if kind == "messages" else None
        self._top: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: dict[str, Any] | None = None
        self._final: dict[str, Any] | None = None
        self._done = False
        self._error = False

    def feed(self, event: Event) -> object:
        """Take in the next event; returns its parsed payload (None if not JSON)."""
        if event.done:
            self._done = True
            return None
        payload = event.json()
        if self._messages is not None:
            self._messages.feed(event, payload)
            return payload
        if self._error or not isinstance(payload, dict):
            return payload
        if payload.get("error"):
            self._error = True
        elif self.kind == "responses":
            self._feed_response_event(event, payload)
        else:
            self._feed_chunk(payload)
        return payload

    def _feed_response_event(self, event: Event, payload: dict[str, Any]) -> None:
        kind = payload.get("type") or event.name
        if kind in _FINAL_EVENTS and isinstance(payload.get("response"), dict):
            self._final = payload["response"]
            self._done = True
        elif kind in ("response.failed", "error"):
            self._error = True

    def _feed_chunk(self, chunk: dict[str, Any]) -> None:
        for key, value in chunk.items():
            if key == "usage":
                if isinstance(value, dict):
                    self._usage = value
            elif key != "choices" and value is not None:
                self._top[key] = value
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            acc = self._choices.setdefault(index, {"index": index})
            if self.kind == "chat":
                merge_delta(acc.setdefault("message", {}), choice.get("delta") or {})
            for key, value in choice.items():
                if key in ("delta", "index"):
                    continue
                if key == "text":
                    acc["text"] = acc.get("text", "") + (value or "")
                elif key == "logprobs" and isinstance(value, dict):
                    merge_delta(acc.setdefault("logprobs", {}), value)
                elif value is not None or key not in acc:
                    acc[key] = value

    @property
    def complete(self) -> bool:
        if self._messages is not None:
            return self._messages.complete
        if self._error or not self._done:
            return False
        if self.kind == "responses":
            return self._final is not None
        return bool(self._choices) and all(
            c.get("finish_reason") for c in self._choices.values()
        )

    def response_object(self) -> dict[str, Any] | None:
        if self._messages is not None:
            return self._messages.message()
        if not self.complete:
            return None
        if self.kind == "responses":
            return self._final
        obj = dict(self._top)
        obj["object"] = _CHUNK_OBJECTS[self.kind]
        choices = []
        for index in sorted(self._choices):
            choice = self._choices[index]
            if self.kind == "chat":
                choice["message"] = _finish_message(choice.get("message") or {})
            else:
                choice.setdefault("text", "")
            choice.setdefault("logprobs", None)
            choices.append(choice)
        obj["choices"] = choices
        if self._usage is not None:
            obj["usage"] = self._usage
        return obj

    def answer(self, model: str) -> StoredAnswer | None:
        obj = self.response_object()
        return None if obj is None else StoredAnswer.from_object(self.kind, obj, model)


def _finish_message(message: dict[str, Any]) -> dict[str, Any]:
    out = {"role": message.get("role") or "assistant", "content": message.get("content")}
    for key, value in message.items():
        if key in ("role", "content"):
            continue
        if key == "tool_calls" and isinstance(value, list):
            calls = sorted(
                (c for c in value if isinstance(c, dict)), key=lambda c: c.get("index", 0)
            )
            value = [{k: v for k, v in c.items() if k != "index"} for c in calls]
        out[key] = value
    return out


def assemble_body(kind: str, body: bytes, model: str) -> StoredAnswer | None:
    """A non-streamed answer: stored as received, if it is a successful response object."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or obj.get("error"):
        return None
    if kind == "messages":
        return StoredAnswer(kind, body, model, obj=obj) if usable_message(obj) else None
    if kind == "responses" and obj.get("status") not in ("completed", "incomplete"):
        return None
    if kind not in ("responses", "messages") and not obj.get("choices"):
        return None
    return StoredAnswer(kind, body, model, obj=obj)
