"""Server-sent events: laneway's one reading of them, for relaying, cache recording and replay.

Upstreams frame events with `\\n` or `\\r\\n` line ends (the standard allows both, and a lone
`\\r`), name them with `event:` lines (the Responses and Messages APIs), send `:` comment
lines as keep-alives, and may split one `data:` payload over several lines (joined with
`\\n`). They cut their streams wherever TCP does: recording and replay work on whole events
(up to the blank line), so a late joiner never starts mid-event. Each API says its stream is
over in its own way: `data: [DONE]` (chat, completions), a final `response.completed` /
`response.incomplete` event (Responses), `event: message_stop` (Messages).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

DONE = b"[DONE]"
# The events after which an API's stream is complete.
END_EVENTS = frozenset({"response.completed", "response.incomplete", "message_stop"})
_HEAD = 160  # an event's JSON names its `type` within its first bytes


@dataclass(frozen=True, slots=True)
class Event:
    raw: bytes  # the frame as received, normalised to `\n` line ends, with its blank line
    name: str | None  # the `event:` field, if any (the Responses API names its events)
    data: bytes  # the `data:` lines, joined by `\n`

    @property
    def done(self) -> bool:
        return self.data == DONE

    @property
    def ends_stream(self) -> bool:
        """The API's end marker: `[DONE]`, or a final event (by name, else by JSON type)."""
        if self.data == DONE:
            return True
        if self.name is not None:
            return self.name in END_EVENTS
        return _json_type(self.data) in END_EVENTS

    def json(self) -> object:
        """The payload parsed; None when it is not JSON (`[DONE]`, comments, junk)."""
        if not self.data or self.data == DONE:
            return None
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return None


def _json_type(data: bytes) -> str:
    head = data[:_HEAD]
    at = head.find(b'"type":')
    if at < 0:
        return ""
    rest = head[at + 7 :].lstrip()
    if not rest.startswith(b'"'):
        return ""
    return rest[1:].split(b'"', 1)[0].decode("utf-8", "replace")


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n") if b"\r" in data else data


def parse_frame(frame: bytes) -> Event:
    """One event from its lines (`\\n` line ends); comments and unknown fields are skipped."""
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
            # A `\r\n` split across two chunks joins up here, in the buffer, before replacing;
            # a trailing `\r` waits for the next chunk, which may bring its `\n`.
            held = buf.endswith(b"\r")
            buf = _lf(buf[:-1] if held else buf) + (b"\r" if held else b"")
        frames = buf.split(b"\n\n")
        self._buf = frames.pop()
        return [parse_frame(f + b"\n\n") for f in frames if f.strip(b"\n")]

    def take(self) -> bytes:
        """The bytes of an event not yet complete, handed back unparsed (and forgotten)."""
        rest, self._buf = self._buf, b""
        return rest

    def flush(self) -> list[Event]:
        """At the end of the stream: a last frame that lacked its blank line, if any."""
        rest, self._buf = _lf(self._buf).strip(b"\n"), b""
        return [parse_frame(rest + b"\n\n")] if rest else []


def last_event(chunks: Sequence[bytes]) -> Event | None:
    """The stream's final event (comments after it, such as keep-alives, are not events),
    read from the end: the last 1, 2, 4... chunks, never much more than the final event's
    own size (a final Responses event can hold megabytes)."""
    n = 1
    while True:
        frames = _lf(b"".join(chunks[-n:])).strip(b"\n").split(b"\n\n")
        whole = n >= len(chunks)
        for f in reversed(frames if whole else frames[1:]):  # the first may be cut short
            event = parse_frame(f)
            if event.data or event.name is not None:
                return event
        if whole:
            return None
        n *= 2


def ended_cleanly(chunks: Sequence[bytes]) -> bool:
    """True when the stream's last event is its API's end marker, whatever the framing."""
    event = last_event(chunks)
    return event is not None and event.ends_stream


def ended_with_error(chunks: Sequence[bytes]) -> bool:
    """A Messages stream the upstream already closed with `event: error`: the client has
    its error event, and a second one would only repeat it."""
    event = last_event(chunks)
    if event is None:
        return False
    return event.name == "error" if event.name is not None else _json_type(event.data) == "error"


class LineGate:
    """Relays a stream's bytes whole lines at a time, so that a stream cut inside a line
    never leaves half a line in front of the error event laneway then sends: `cut()` gives
    what ends the open event first. Most chunks end at a line end and pass as they are.
    A line longer than `hold` bytes is not held whole (memory stays bounded): it passes as it
    comes, and a cut inside it ends it, and its event, before the error event."""

    __slots__ = ("_held", "_hold", "_last")

    def __init__(self, hold: int = 1 << 20) -> None:
        self._held: list[bytes] = []
        self._hold = hold
        self._last = b"\n\n"  # the tail of what went out: nothing open yet

    def feed(self, chunk: bytes) -> bytes:
        if self._held:
            self._held.append(chunk)
            chunk, self._held = b"".join(self._held), []
        if not chunk.endswith((b"\n", b"\r")):
            end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
            if len(chunk) - end <= self._hold:
                self._held = [chunk[end:]]
                chunk = chunk[:end]
        if chunk:
            self._last = (self._last + chunk[-4:])[-4:]
        return chunk

    def rest(self) -> bytes:
        """At a clean end: a last line that came without its line end."""
        held, self._held = b"".join(self._held), []
        return held

    def cut(self) -> bytes:
        """At a cut: a held half line is dropped, and line ends close the event it was in
        (its whole lines still make an event), so what follows is an event of its own."""
        self._held = []
        last = _lf(self._last)
        return b"" if last.endswith(b"\n\n") else b"\n" if last.endswith(b"\n") else b"\n\n"


class StreamRecord(list[bytes]):
    """A relayed stream's chunks, kept for what is read from them afterwards (usage, text,
    the end marker) in bounded memory: whole up to `limit` bytes; past it, the first half
    and a rolling tail of the other half, so a stream of any length costs at most `limit`."""

    __slots__ = ("_head", "_size", "limit")

    def __init__(self, first: Sequence[bytes] = (), limit: int = 4 << 20) -> None:
        super().__init__()
        self.limit, self._size, self._head = limit, 0, 0
        for chunk in first:
            self.append(chunk)

    def append(self, chunk: bytes) -> None:
        super().append(chunk)
        self._size += len(chunk)
        if self._size <= self.limit // 2:
            self._head = len(self)  # the head: kept whatever follows
            return
        while self._size > self.limit and len(self) > self._head + 1:
            self._size -= len(self.pop(self._head))


def events(chunks: Sequence[bytes]) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a recorded stream, in order; `[DONE]`, comments and junk skipped."""
    splitter = EventSplitter()
    for chunk in chunks:
        for event in splitter.feed(chunk):
            obj = event.json()
            if isinstance(obj, dict):
                yield obj
    for event in splitter.flush():
        obj = event.json()
        if isinstance(obj, dict):
            yield obj


def usage_of(chunks: Sequence[bytes], streamed: bool) -> tuple[dict[str, Any] | None, int]:
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
            d = ev.get("delta") or {}
            text = d.get("text") or d.get("partial_json")
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


def frame(payload: object, name: str | None = None) -> bytes:
    """One event as laneway writes it: optional `event:` line, one `data:` line."""
    data = b"data: " + orjson.dumps(payload) + b"\n\n"
    return b"event: " + name.encode() + b"\n" + data if name else data


DONE_FRAME = b"data: [DONE]\n\n"
