"""Normalise chat and Responses bodies into the few things the lane classifier reads.

One pass over the messages collects roles and counts and stops at the first tool-call
shape (an agent loop is agentic whatever its text says). Only the texts the content
rules need are kept: system/developer messages and the first and last user turns. The
bodies are untrusted JSON, so every access checks its type and nothing here raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

MAX_PARTS = 8  # content parts kept from each end of a message; markers sit at the ends
MAX_SYSTEM = 4  # system messages kept; clients send one or two (Aider adds a reminder)
SYSTEM_ROLES = frozenset({"system", "developer"})
TOOL_ROLES = frozenset({"tool", "function"})
# Responses API input items that are tool traffic rather than conversation.
TOOL_ITEM_SUFFIXES = ("_call", "_call_output")
TOOL_ITEM_TYPES = frozenset(
    {"mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "tool_search_output"}
)


@dataclass(frozen=True, slots=True)
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
    return isinstance(value, list | dict) and len(value) > 0


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


@dataclass(slots=True)
class _Acc:
    """Mutable accumulator, local to one call."""

    system: list[Any]
    first_user: Any = None
    last_user: Any = None
    n_user: int = 0
    n_assistant: int = 0
    last_role: str | None = None

    def add(self, role: Any, content: Any) -> None:
        self.last_role = role if isinstance(role, str) else None
        if role in SYSTEM_ROLES:
            if len(self.system) < MAX_SYSTEM:
                self.system.append(content)
            else:
                self.system[-1] = content  # keep the newest too: reminders come last
        elif role == "user":
            if self.n_user == 0:
                self.first_user = content
            self.last_user = content
            self.n_user += 1
        elif role == "assistant":
            self.n_assistant += 1

    def view(self, prefix_system: tuple[str, ...] = ()) -> View:
        system = prefix_system + tuple(t for c in self.system for t in texts_of(c))
        first = texts_of(self.first_user)
        last = first if self.n_user == 1 else texts_of(self.last_user)
        return View(None, system, first, last, self.n_user, self.n_assistant, self.last_role)


def chat_view(body: dict[str, Any]) -> View:
    declared = declared_tools(body)
    if declared:
        return View(declared)
    messages = body.get("messages")
    acc = _Acc([])
    if not isinstance(messages, list):
        return acc.view()
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role in TOOL_ROLES:
            return View(f"shape: role '{role}' message in history")
        if role == "assistant":
            if _nonempty(msg.get("tool_calls")):
                return View("shape: assistant tool_calls in history")
            if _nonempty(msg.get("function_call")):
                return View("shape: assistant function_call in history")
        acc.add(role, msg.get("content"))
    return acc.view()


def responses_view(body: dict[str, Any]) -> View:
    declared = declared_tools(body)
    if declared:
        return View(declared)
    instructions = body.get("instructions")
    prefix = (instructions,) if isinstance(instructions, str) and instructions else ()
    acc = _Acc([])
    items = body.get("input")
    if isinstance(items, str):
        acc.add("user", items)
        return acc.view(prefix)
    if not isinstance(items, list):
        return acc.view(prefix)
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if isinstance(kind, str) and (kind.endswith(TOOL_ITEM_SUFFIXES) or kind in TOOL_ITEM_TYPES):
            return View(f"shape: responses input item '{kind}'")
        if kind is None or kind == "message":
            acc.add(item.get("role"), item.get("content"))
    return acc.view(prefix)
