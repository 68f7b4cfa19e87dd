"""Server-sent events as OpenAI-compatible servers write them: `data: {...}\\n\\n` frames."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from policies.lanes import Endpoint

_TAIL = 512  # the end marker sits in the last frame; never scan the whole stream for it


def stream_ended_cleanly(chunks: list[bytes], endpoint: Endpoint) -> bool:
    """True when the stream carried its end marker: `[DONE]`, or a final Responses event."""
    tail = b"".join(chunks[-4:])[-_TAIL:]
    if endpoint is Endpoint.RESPONSES:
        return b"response.completed" in tail or b"response.incomplete" in tail or b"[DONE]" in tail
    return b"data: [DONE]" in tail


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
