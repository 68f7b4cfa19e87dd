"""Server-sent events as OpenAI-compatible servers write them: `data: {...}\\n\\n` frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from policies.lanes import Endpoint

_HEAD = 160  # a Responses event names its type in its first line or two


def last_frame(chunks: list[bytes]) -> bytes:
    """The stream's final SSE frame, read from the end: never the whole stream."""
    tail = b""
    for chunk in reversed(chunks):
        tail = chunk + tail
        body = tail.rstrip(b"\r\n")
        cut = body.rfind(b"\n\n")
        if cut >= 0:
            return body[cut + 2 :]
    return tail.strip()


def stream_ended_cleanly(chunks: list[bytes], endpoint: Endpoint) -> bool:
    """True when the stream's last frame is its end marker: `[DONE]`, a final Responses
    event (`response.completed` / `response.incomplete`, whose payload can be large), or
    Messages' `message_stop`."""
    frame = last_frame(chunks)
    if frame == b"data: [DONE]":
        return True
    if endpoint is Endpoint.RESPONSES:
        return _event_type(frame) in (b"response.completed", b"response.incomplete")
    if endpoint is Endpoint.MESSAGES:
        return _event_type(frame) == b"message_stop"
    return False


def ended_with_error(chunks: list[bytes], endpoint: Endpoint) -> bool:
    """A Messages stream whose upstream already closed it with `event: error`: the client
    has its error event, and a second one would only repeat it."""
    return endpoint is Endpoint.MESSAGES and _event_type(last_frame(chunks)) == b"error"


def _event_type(frame: bytes) -> bytes:
    """An event's type: its `event:` line, else the `"type"` its JSON payload opens with."""
    if frame.startswith(b"event:"):
        return frame[6:].split(b"\n", 1)[0].strip()
    head = frame[:_HEAD]
    at = head.find(b'"type":')
    if at < 0:
        return b""
    return head[at + 7 :].lstrip().split(b'"', 2)[1] if b'"' in head[at + 7 :] else b""


def events(chunks: list[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a recorded stream, in order; `[DONE]` and junk are skipped."""
    data = b"".join(chunks)
    for frame in data.split(b"\n\n"):
        for line in frame.split(b"\n"):
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                if payload and payload != b"[DONE]":
                    try:
                        obj = orjson.loads(payload)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(obj, dict):
                        yield obj


def usage_of(chunks: list[bytes], streamed: bool) -> tuple[dict[str, Any] | None, int]:
    """(usage object if the answer carried one, characters of generated text)."""
    if not streamed:
        try:
            obj = orjson.loads(chunks[0])
        except orjson.JSONDecodeError:
            return None, 0
        if not isinstance(obj, dict):
            return None, 0
        usage = obj.get("usage")
        return (usage if isinstance(usage, dict) else None), 0
    usage = None
    chars = 0
    for ev in events(chunks):
        u = ev.get("usage") or (ev.get("response") or {}).get("usage")
        kind = ev.get("type")
        if kind == "message_start":  # Messages: input counts here, output in message_delta
            u = (ev.get("message") or {}).get("usage")
        elif kind == "message_delta" and isinstance(u, dict) and usage is not None:
            u = usage | {k: v for k, v in u.items() if v is not None}
        elif kind == "content_block_delta":
            text = (ev.get("delta") or {}).get("text") or (ev.get("delta") or {}).get(
                "partial_json")
            if isinstance(text, str):
                chars += len(text)
            continue
        if isinstance(u, dict):
            usage = u
        for choice in ev.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content") if delta else choice.get("text")
            if isinstance(text, str):
                chars += len(text)
        delta_text = ev.get("delta")
        if isinstance(delta_text, str):
            chars += len(delta_text)
    return usage, chars
