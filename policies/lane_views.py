"""Normalise chat and Responses bodies into the few things the lane classifier reads.

The roles of all messages are read once; tool traffic (a ``tool`` message, assistant
``tool_calls``) ends the work at once, since an agent loop is agentic whatever its text
says. Otherwise only the texts the content rules need are kept: system/developer
messages and the first and last user turns, never the history in between. Bodies are
untrusted JSON, so every access checks its type, roles are compared and never hashed,
and nothing here raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_PARTS = 8  # content parts kept from each end of a message; markers sit at the ends
MAX_SYSTEM = 4  # system messages kept; clients send one or two (Aider adds a reminder)
# Responses API input items that are tool traffic rather than conversation.
TOOL_ITEM_SUFFIXES = ("_call", "_call_output")
TOOL_ITEM_TYPES = frozenset(
    {"mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "tool_search_output"}
)


@dataclass(slots=True)  # built per request, never changed; frozen's __init__ costs ~1 us
class View:
    tool_signal: str | None  # a shape reason if the body is tool traffic
    system: tuple[str, ...] = ()
    first_user: tuple[str, ...] = ()
    last_user: tuple[str, ...] = ()
    n_user: int = 0
    n_assistant: int = 0
    last_role: str | None = None

    @property
    def single_exchange(self) -> bool:
        """One user turn, optionally followed by an assistant prefill: a one-shot job."""
        if self.n_user != 1:
            return False
        return self.n_assistant == 0 or (self.n_assistant == 1 and self.last_role == "assistant")


def texts_of(content: Any) -> tuple[str, ...]:
    """The text of a message's content: a string, or text parts of a list of parts."""
    if isinstance(content, str):
        return (content,)
    if not isinstance(content, list):
        return ()
    parts = content if len(content) <= 2 * MAX_PARTS else content[:MAX_PARTS] + content[-MAX_PARTS:]
    out: list[str] = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif isinstance(part, dict):
            text = part.get("text")
            if isinstance(text, str):
                out.append(text)
    return tuple(out)


def _nonempty(value: Any) -> TypeGuard[list[Any] | dict[str, Any]]:
    return isinstance(value, (list, dict)) and len(value) > 0  # a tuple is faster than a union


def declared_tools(body: dict[str, Any]) -> str | None:
    """A shape reason if the request offers tools or forces a tool call."""
    for key in ("tools", "functions"):
        value = body.get(key)
        if _nonempty(value):
            return f"shape: {len(value)} {key} declared"
    for key in ("tool_choice", "function_call"):
        value = body.get(key)
        # "none" forbids tool calls; anything else (auto/required/a named tool) implies them.
        if value is not None and value not in ("none", "", False):
            return f"shape: {key} set"
    return None


def _roles(items: list[Any]) -> list[Any]:
    """Each item's role (None for non-dicts), computed once per request."""
    return [m.get("role") if isinstance(m, dict) else None for m in items]


def _conversation(items: list[Any], roles: list[Any], prefix: tuple[str, ...]) -> View:
    """The view of a tool-free conversation; ``roles[i]`` is the role of ``items[i]``.

    Counting and searching run as list methods in C, so a 200-turn chat costs
    microseconds. Roles are compared with ``==``, never hashed: a role may be any JSON
    value, and only dict items ever have a str role.
    """
    n_user = roles.count("user")
    at = sorted(_indices(roles, "system") + _indices(roles, "developer"))
    if len(at) > MAX_SYSTEM:  # keep the newest too: reminders come last
        at = at[: MAX_SYSTEM - 1] + at[-1:]
    system = [items[i].get("content") for i in at]
    first: tuple[str, ...] = ()
    last: tuple[str, ...] = ()
    if n_user:
        first = texts_of(items[roles.index("user")].get("content"))
        last = first
        if n_user > 1:  # the newest user turn is at or near the end: walk back to it
            i = len(roles) - 1
            while roles[i] != "user":
                i -= 1
            last = texts_of(items[i].get("content"))
    texts = prefix + tuple(t for c in system for t in texts_of(c))
    last_role = roles[-1] if roles and isinstance(roles[-1], str) else None
    return View(None, texts, first, last, n_user, roles.count("assistant"), last_role)


def _indices(roles: list[Any], role: str) -> list[int]:
    """Where ``role`` occurs; ``list.index`` scans in C, so few system turns cost little."""
    found: list[int] = []
    try:
        while True:
            found.append(roles.index(role, found[-1] + 1 if found else 0))
    except ValueError:
        return found


def chat_view(body: dict[str, Any]) -> View:
    declared = declared_tools(body)
    if declared:
        return View(declared)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return View(None)
    roles = _roles(messages)
    for tool_role in ("tool", "function"):
        if tool_role in roles:
            return View(f"shape: role '{tool_role}' message in history")
    for i in [i for i, role in enumerate(roles) if role == "assistant"]:
        msg = messages[i]
        if not (msg.get("tool_calls") or msg.get("function_call")):
            continue  # the common case, decided by plain truthiness
        for key in ("tool_calls", "function_call"):
            if _nonempty(msg.get(key)):
                return View(f"shape: assistant {key} in history")
    return _conversation(messages, roles, ())


def responses_view(body: dict[str, Any]) -> View:
    declared = declared_tools(body)
    if declared:
        return View(declared)
    instructions = body.get("instructions")
    prefix = (instructions,) if isinstance(instructions, str) and instructions else ()
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("previous_response_id"), str):
        # The conversation continues server-side: count the earlier answer as a turn,
        # so a follow-up is not mistaken for a one-shot request.
        messages.append({"role": "assistant"})
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list):
        for item in given:
            if not isinstance(item, dict):
                continue
            kind = item.get("type")
            if kind is None or kind == "message":
                messages.append(item)
            elif isinstance(kind, str) and (
                kind.endswith(TOOL_ITEM_SUFFIXES) or kind in TOOL_ITEM_TYPES
            ):
                return View(f"shape: responses input item '{kind}'")
    return _conversation(messages, _roles(messages), prefix)


def messages_view(body: dict[str, Any]) -> View:
    """Anthropic Messages: `system` apart (a string or text blocks), tool traffic as
    `tool_use` / `tool_result` content blocks."""
    declared = declared_tools(body)
    if declared:
        return View(declared)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return View(None)
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, list):
            for block in content:
                kind = block.get("type") if isinstance(block, dict) else None
                if kind == "tool_use" or kind == "tool_result":
                    return View(f"shape: {kind} block in history")
    system = body.get("system")
    prefix = texts_of(system) if system else ()
    return _conversation(messages, _roles(messages), prefix)
