"""Session affinity: the requests of one conversation stay on one model while it is healthy,
so the upstream's prefix cache keeps paying off and an agent doesn't switch minds mid-task.

The table is a bounded LRU with a TTL: sessions are never cleaned up by their clients, so
memory is capped by count, and a session idle for longer than the TTL starts afresh.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

# Leading messages are hashed only up to this many characters each: enough to tell
# conversations apart, cheap for a 100k-character system prompt.
PREFIX_CHARS = 4096
SESSION_HEADER = "x-laneway-session"
CLAUDE_CODE_SESSION = "x-claude-code-session-id"  # Claude Code's own, on every request


class AffinityTable:
    def __init__(self, max_sessions: int = 10_000, ttl_s: float = 3600.0) -> None:
        if max_sessions < 1 or ttl_s <= 0:
            raise ValueError("invalid affinity table settings")
        self._max = max_sessions
        self._ttl = ttl_s
        self._table: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def get(self, session: str, now: float) -> str | None:
        hit = self._table.get(session)
        if hit is None:
            return None
        model, seen = hit
        if now - seen > self._ttl:
            del self._table[session]
            return None
        self._table.move_to_end(session)
        return model

    def put(self, session: str, model: str, now: float) -> None:
        self._table[session] = (model, now)
        self._table.move_to_end(session)
        while len(self._table) > self._max:
            self._table.popitem(last=False)

    def __len__(self) -> int:
        return len(self._table)


def _text(content: Any) -> str:
    """The text of a message's content (a string or a list of parts), bounded."""
    if isinstance(content, str):
        return content[:PREFIX_CHARS]
    if isinstance(content, list):
        out: list[str] = []
        size = 0
        for part in content:
            text = part.get("text") if isinstance(part, Mapping) else part
            if isinstance(text, str):
                out.append(text[: PREFIX_CHARS - size])
                size += len(out[-1])
                if size >= PREFIX_CHARS:
                    break
        return "\n".join(out)
    return ""


def _first(messages: Any, roles: tuple[str, ...]) -> str | None:
    if not isinstance(messages, list):
        return None
    for m in messages:
        if isinstance(m, Mapping) and m.get("role") in roles:
            return _text(m.get("content"))
    return None


def _leading(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(system/instructions, first user input) of a chat or responses request."""
    messages = body.get("messages")
    if messages is not None:
        user = _first(messages, ("user",))
        if user is None:
            return None
        return _first(messages, ("system", "developer")) or "", user
    items = body.get("input")
    if items is None:
        return None
    instructions = _text(body.get("instructions"))
    if isinstance(items, str):
        return instructions, items[:PREFIX_CHARS]
    if isinstance(items, list) and items:
        # The first user item, else the first item of any kind (e.g. a lone tool output).
        first = _first(items, ("user",))
        if first is None:
            item = items[0]
            first = (
                _text(item.get("content") or item.get("output"))
                if isinstance(item, Mapping)
                else _text(item)
            )
        return instructions, first
    return None


def session_key(body: Mapping[str, Any], headers: Mapping[str, str], tenant: str = ""
                ) -> str | None:
    """The conversation a request belongs to, or None when it can't be told.

    In order: the `x-laneway-session` header (the client told laneway itself), the body's
    `prompt_cache_key` (the client told the provider), else the leading messages, which are
    the same on every turn of a conversation. `headers` must be case-insensitive
    (Starlette's) or have lower-case keys. The key is a fixed-size digest namespaced by its
    source and keyed by the tenant: another tenant sending the same opening messages (or
    session id) neither sees nor moves this one's pin.
    """
    digest = hashlib.blake2b(tenant.encode("utf-8", "surrogatepass"), digest_size=16)
    header = headers.get(SESSION_HEADER) or headers.get(CLAUDE_CODE_SESSION)
    if header:
        source = "h"
        digest.update(b"\x00" + header[:256].encode("utf-8", "surrogatepass"))
    elif isinstance(pck := body.get("prompt_cache_key"), str) and pck:
        source = "p"
        digest.update(b"\x00" + pck[:256].encode("utf-8", "surrogatepass"))
    else:
        leading = _leading(body)
        if leading is None:
            return None
        source = "m"
        digest.update(b"\x00" + leading[0].encode("utf-8", "surrogatepass"))
        digest.update(b"\x00" + leading[1].encode("utf-8", "surrogatepass"))
    return f"{source}:{digest.hexdigest()}"
