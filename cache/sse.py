"""Server-sent events, as far as caching needs them: split a byte stream into whole events.

Upstreams cut their streams wherever TCP does; recording and replay work on whole events
(`data: ...` lines up to the blank line), so a late joiner never starts mid-event.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

DONE = b"[DONE]"


@dataclass(frozen=True, slots=True)
class Event:
    raw: bytes  # the frame as received, normalised to `\n` line ends, with its blank line
    name: str | None  # the `event:` field, if any (the Responses API names its events)
    data: bytes  # the `data:` lines, joined by `\n`

    @property
    def done(self) -> bool:
        return self.data == DONE

    def json(self) -> object:
        """The payload parsed; None when it is not JSON (`[DONE]`, comments, junk)."""
        if not self.data or self.data == DONE:
            return None
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return None


def parse_frame(frame: bytes) -> Event:
    frame = frame.lstrip(b"\n")
    name: str | None = None
    data: list[bytes] = []
    for line in frame.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", "replace")
    raw = frame if frame.endswith(b"\n\n") else frame.rstrip(b"\n") + b"\n\n"
    return Event(raw=raw, name=name, data=b"\n".join(data))


class EventSplitter:
    """Feed it chunks as they arrive; it returns the events they complete."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[Event]:
        buf = self._buf + chunk
        if b"\r" in buf:
            # A `\r\n` split across two chunks joins up here, in the buffer, before replacing.
            buf = buf.replace(b"\r\n", b"\n")
        frames = buf.split(b"\n\n")
        self._buf = frames.pop()
        return [parse_frame(f + b"\n\n") for f in frames if f.strip(b"\n")]

    def flush(self) -> list[Event]:
        """At the end of the stream: a last frame that lacked its blank line, if any."""
        rest, self._buf = self._buf.replace(b"\r", b"\n").strip(b"\n"), b""
        return [parse_frame(rest + b"\n\n")] if rest else []


def frame(payload: object, name: str | None = None) -> bytes:
    """One event as laneway writes it: optional `event:` line, one `data:` line."""
    data = b"data: " + orjson.dumps(payload) + b"\n\n"
    return b"event: " + name.encode() + b"\n" + data if name else data


DONE_FRAME = b"data: [DONE]\n\n"
