"""The stored answer: one finished, successful, non-streamed response object, plus metadata.

Whatever the original request's mode, what is stored is the JSON object a non-streamed
request would have received (`chat.completion`, `text_completion` or a Responses API
`response`); a hit renders it as JSON, or replays it as SSE (`cache.replay`).

Stored bytes are `<meta JSON>\\n<body JSON>`: orjson never writes a raw newline, so the
first one ends the metadata, and a JSON hit sends the body bytes as they are, unparsed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

FORMAT = 1
KINDS = ("chat", "completions", "responses", "messages")
Trim = tuple[int, int, str | None]  # tokens before and after trimming, completion scope


class StoredAnswer:
    __slots__ = ("_obj", "_sse", "body", "kind", "model", "stored_at", "trim", "usage")

    def __init__(
        self,
        kind: str,
        body: bytes,
        model: str,
        stored_at: float | None = None,
        usage: bool | None = None,
        obj: dict[str, Any] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown answer kind {kind!r}")
        self.kind = kind
        self.body = body
        self.model = model  # laneway's name for the model that answered
        self.stored_at = time.time() if stored_at is None else stored_at
        self._obj = obj
        self._sse: dict[bool, bytes] | None = None  # made on the first replay
        # What trimming did to the request this answers (tokens before, after, completion
        # scope): a hit keyed on the client's body reports it without trimming again.
        self.trim: Trim | None = None
        self.usage = isinstance(self.obj().get("usage"), dict) if usage is None else usage

    def compact(self) -> None:
        """Forget the parsed object (it is re-parsed when needed): what L1 keeps for a long
        time should be a few bytes objects, not a tree of dicts that every full garbage
        collection walks (20,000 answers with their trees: 40 ms per collection)."""
        self._obj = None

    @classmethod
    def from_object(cls, kind: str, obj: dict[str, Any], model: str) -> StoredAnswer:
        return cls(kind, orjson.dumps(obj), model, obj=obj)

    def obj(self) -> dict[str, Any]:
        """The response object: the one it was built from (until `compact`), else parsed
        afresh (not kept). Treat it as read-only."""
        if self._obj is not None:
            return self._obj
        parsed = orjson.loads(self.body)
        if not isinstance(parsed, dict):
            raise ValueError("a stored answer must be a JSON object")
        return parsed

    def sse(self, include_usage: bool) -> bytes:
        """The answer as a complete SSE stream (rendered once per variant, then reused)."""
        if self._sse is None:
            self._sse = {}
        cached = self._sse.get(include_usage)
        if cached is None:
            from cache.replay import render_sse

            cached = self._sse[include_usage] = b"".join(
                render_sse(self.kind, self.obj(), include_usage)
            )
        return cached

    @property
    def size(self) -> int:
        """Bytes this answer costs in memory, roughly: what the L1 budget counts. The body
        and its parsed object (~1.7x the body, measured with tracemalloc), plus ~1.2 kB of
        Python objects per answer: 10,000 chat answers of 562 bytes took 2.4 kB each, where
        the earlier `2 * body + 160` counted 1.5 kB and let a 32 MB L1 hold ~50 MB."""
        return len(self.body) * 2 + len(self.model) + 1200

    def text(self) -> str:
        """The generated text of the first choice (a completion's suggestion)."""
        obj = self.obj()
        if self.kind == "responses":
            parts = [
                c.get("text", "")
                for item in obj.get("output") or ()
                if item.get("type") == "message"
                for c in item.get("content") or ()
                if c.get("type") == "output_text"
            ]
            return "".join(parts)
        if self.kind == "messages":
            return "".join(str(b.get("text") or "") for b in obj.get("content") or ()
                           if isinstance(b, dict) and b.get("type") == "text")
        choices = obj.get("choices") or [{}]
        first = choices[0]
        if self.kind == "completions":
            return str(first.get("text") or "")
        return str((first.get("message") or {}).get("content") or "")

    def to_bytes(self, key: str = "") -> bytes:
        meta: dict[str, Any] = {"f": FORMAT, "key": key, "k": self.kind, "m": self.model,
                                "t": self.stored_at, "u": self.usage}
        if self.trim is not None:
            meta["tr"] = self.trim
        return orjson.dumps(meta) + b"\n" + self.body

    @classmethod
    def from_bytes(cls, data: bytes, key: str = "") -> StoredAnswer | None:
        """None for anything that is not a stored answer of this format, or was stored under
        another key (never raises). The key check makes a confused connection — a reply
        meant for another request — a miss, never somebody else's answer."""
        head, sep, body = data.partition(b"\n")
        if not sep:
            return None
        try:
            meta = orjson.loads(head)
            if not isinstance(meta, dict) or meta.get("f") != FORMAT or meta.get("key") != key:
                return None
            answer = cls(meta["k"], body, str(meta["m"]), float(meta["t"]), bool(meta["u"]))
            tr = meta.get("tr")
            if isinstance(tr, list) and len(tr) == 3:
                answer.trim = (int(tr[0]), int(tr[1]), tr[2] if isinstance(tr[2], str) else None)
            return answer
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def __repr__(self) -> str:
        return f"StoredAnswer({self.kind}, model={self.model!r}, {len(self.body)} bytes)"
