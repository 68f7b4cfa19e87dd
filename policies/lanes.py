"""Lane classifier: which lane (completion, qa, agentic) a request belongs to.

Pure and I/O-free; it runs on every request, so it reads only bounded windows of the
texts that carry signals (see ``policies.markers``) and never raises on any JSON dict.

Priority, first match wins:

1. Override header ``x-laneway-lane`` with a valid lane name (an explicit client choice).
   An invalid value is ignored; the decision notes it.
2. Shape (the API the client used, which it cannot say by accident):
   - embeddings -> qa (not lane-routed, but every request gets a lane);
   - ``/completions`` with ``prompt`` -> completion (inline/FIM in practice), the FIM
     family named when its markers are present; a ``/completions`` body that carries
     ``messages`` instead is classified like a chat;
   - chat/responses offering tools (``tools``/``functions``/``tool_choice``/
     ``function_call``) or carrying tool traffic (assistant ``tool_calls``, ``role:
     tool|function`` messages, Responses ``*_call``/``*_call_output`` items) -> agentic.
     Tool shape beats every content marker: an agent that reads a file full of FIM
     markers is still an agent, so an agentic request never lands in ``completion``.
3. Content markers, in this order:
   a. a declared no-tools mode in the system prompt (Continue "You are in chat mode",
      Aider ask "Act as an expert code analyst") -> qa. It is the client stating its
      mode, and such prompts often name what they forbid ("don't use SEARCH/REPLACE");
   b. an agent protocol in the system prompt (Cline/Roo XML tools, Continue agent mode
      or system-message tools, Aider edit formats, ReAct/Hermes tool lists) -> agentic;
   c. agent-loop user turns (``<task>``, ``<environment_details>``,
      ``[tool for 'x'] Result:``) -> agentic;
   d. a one-shot FIM prompt or hole-filling request sent over chat -> completion. Only a
      single exchange counts (or few-shot under a hole-filler system prompt), so a chat
      that merely mentions ``<|fim_prefix|>`` stays qa. Agentic markers (b, c) are
      checked first for the same reason as tool shape. A completion engine driving a
      chat endpoint counts too: a system prompt casting the model as one, with the last
      user turn holding the code before and after the cursor in tagged sections or a
      cursor marker (few-shot turns allowed); without that system prompt, both sections
      and a cursor marker in a one-shot chat;
   e. one-shot side jobs (commit messages, titles, prompt rewriting) -> qa.
4. Headers (weak: spoofable, often absent): an agent client's ``User-Agent``
   (``Cline/``, ``RooCode/``), ``X-Title: Roo Code`` or ``originator: codex_cli_rs``
   tips a chat with no other signal to agentic, but only once it has assistant turns
   (an agent loop in progress). Agent clients also send one-shot side jobs without
   tools (commit messages, titles, prompt rewriting); those stay qa, because content
   and shape describe the work while a header only describes the sender.
5. Default: qa for chat/responses, completion for legacy completions.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from policies import markers as mk
from policies.lane_views import View, chat_view, messages_view, responses_view


class Lane(enum.StrEnum):
    COMPLETION = "completion"
    QA = "qa"
    AGENTIC = "agentic"


class Endpoint(enum.StrEnum):
    CHAT = "chat"
    COMPLETIONS = "completions"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"
    MESSAGES = "messages"  # Anthropic's Messages API


@dataclass(frozen=True, slots=True)
class LaneDecision:
    lane: Lane
    reasons: tuple[str, ...]
    source: str  # "header" | "shape" | "content" | "default"


OVERRIDE_HEADER = "x-laneway-lane"
_LANE_NAMES = frozenset(lane.value for lane in Lane)
_HOLE_MAX_TOKENS = 512
_HOLE_MAX_TEMPERATURE = 0.3


def classify(endpoint: Endpoint, body: dict[str, Any], headers: Mapping[str, str]) -> LaneDecision:
    """Decide the lane of one request. ``headers`` is case-insensitive (lower-case names)."""
    notes: list[str] = []
    override = _header(headers, OVERRIDE_HEADER)
    if override is not None:
        wanted = override[:32].strip().lower()
        if wanted in _LANE_NAMES:
            reason = f"header: {OVERRIDE_HEADER}={wanted} (explicit override)"
            return LaneDecision(Lane(wanted), (reason,), "header")
        notes.append(f"header: invalid {OVERRIDE_HEADER}={override[:32]!r} ignored")

    decision = _classify(endpoint, body, headers, notes)
    if not notes:  # the usual case: the decision as made
        return decision
    return LaneDecision(decision.lane, decision.reasons + tuple(notes), decision.source)


def _classify(
    endpoint: Endpoint, body: dict[str, Any], headers: Mapping[str, str], notes: list[str]
) -> LaneDecision:
    if endpoint == Endpoint.EMBEDDINGS:
        return LaneDecision(Lane.QA, ("shape: embeddings request",), "shape")
    if endpoint == Endpoint.COMPLETIONS:
        if "prompt" in body or not isinstance(body.get("messages"), list):
            return _legacy_completion(body)
        notes.append("shape: /completions body carries messages, classified as chat")
    view = (responses_view(body) if endpoint == Endpoint.RESPONSES
            else messages_view(body) if endpoint == Endpoint.MESSAGES else chat_view(body))
    if view.tool_signal:
        return LaneDecision(Lane.AGENTIC, (view.tool_signal,), "shape")
    found = _content(view, body, notes)
    if found is not None:
        return LaneDecision(found[0], (found[1],), "content")
    client = _agent_client(headers)
    if client and view.n_assistant > 0:
        reason = f"header: agent client {client} on a multi-turn chat without other signals"
        return LaneDecision(Lane.AGENTIC, (reason,), "header")
    if client:
        notes.append(f"header: agent client {client} ignored for a one-shot request")
    return LaneDecision(Lane.QA, ("default: chat without tool, FIM or agent signals",), "default")


def _legacy_completion(body: dict[str, Any]) -> LaneDecision:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt and isinstance(prompt[0], str):
        prompt = prompt[0]  # a batch of prompts: the first one is representative
    suffix = body.get("suffix")
    if isinstance(suffix, str) and suffix:
        return LaneDecision(Lane.COMPLETION, ("shape: legacy completions with suffix",), "shape")
    family = mk.fim_family(prompt, anchored=False) if isinstance(prompt, str) else None
    if family:
        reason = f"content: {family} FIM markers in prompt"
        return LaneDecision(Lane.COMPLETION, (reason,), "content")
    if prompt is not None:  # text or token ids
        return LaneDecision(Lane.COMPLETION, ("shape: legacy completions prompt",), "shape")
    return LaneDecision(Lane.COMPLETION, ("default: legacy completions endpoint",), "default")


def _content(view: View, body: dict[str, Any], notes: list[str]) -> tuple[Lane, str] | None:
    """Steps 3a-3e of the module docstring; None when no content marker is present."""
    # A declared no-tools mode comes first: such prompts often name what they forbid
    # ("Don't use SEARCH/REPLACE blocks", "switch to Agent Mode").
    for text in view.system:
        label = mk.first_marker(text, mk.QA_SYSTEM, mk.SYSTEM_HEAD, mk.SYSTEM_TAIL)
        if label:
            return Lane.QA, f"content: {label} in system prompt"
    for text in view.system:
        label = mk.first_marker(text, mk.AGENT_SYSTEM, mk.SYSTEM_HEAD, mk.SYSTEM_TAIL)
        if label:
            return Lane.AGENTIC, f"content: {label} in system prompt"
    label = _agent_turn(view)
    if label:
        return Lane.AGENTIC, f"content: {label} in user turn"
    completion = _completion_over_chat(view, body, notes)
    if completion:
        return Lane.COMPLETION, completion
    label = _side_job(view)
    if label:
        return Lane.QA, f"content: one-shot side job ({label})"
    return None


def _agent_turn(view: View) -> str | None:
    for text in view.first_user:
        # Cline/Roo open a task with "<task>\n...\n</task>"; both tags, at the start.
        if text[: mk.ANCHOR].lstrip().startswith(mk.TASK_OPEN) and mk.find_in_window(
            text, mk.TASK_CLOSE, mk.TURN_HEAD, mk.TURN_TAIL
        ):
            return "Cline/Roo <task>"
    turns = (
        view.first_user if view.first_user is view.last_user else view.first_user + view.last_user
    )
    for text in turns:
        label = mk.first_marker(text, mk.AGENT_USER, mk.TURN_HEAD, mk.TURN_TAIL)
        if label:
            return label
        head = text[:256]
        if head.lstrip().startswith("[") and head.find(mk.TOOL_RESULT_TAIL) >= 0:
            return "Cline/Roo tool result"
    return None


def _completion_over_chat(view: View, body: dict[str, Any], notes: list[str]) -> str | None:
    if not view.last_user:
        return None
    engine = _completion_engine(view)
    if engine:
        return engine
    if view.single_exchange:
        for text in view.last_user:
            family = mk.fim_family(text, anchored=True)
            if family:
                return f"content: {family} FIM markers in chat message"
    # Few-shot hole fillers send example turns under a hole-filler system prompt; any
    # other multi-turn chat is a conversation, so its turns are not even scanned.
    if not view.single_exchange and not any(
        mk.first_literal(t, mk.HOLE_STRONG, mk.SYSTEM_HEAD, mk.SYSTEM_TAIL) for t in view.system
    ):
        return None
    hole = _first_hole(view.last_user, mk.HOLE_STRONG)
    if hole:
        return f"content: hole marker {hole!r} in a one-shot chat{_sampling_hints(body)}"
    weak = _first_hole(view.last_user, mk.HOLE_WEAK)
    if not weak:
        return None
    hints = _sampling_hints(body)
    if hints:
        return f"content: cursor marker {weak!r} in a one-shot chat{hints}"
    notes.append(f"content: cursor marker {weak!r} ignored without completion-like sampling")
    return None


def _completion_engine(view: View) -> str | None:
    """A completion engine driving a chat endpoint (step 3d), or None."""
    cast = None
    for text in view.system:
        head = text[: mk.LOWER_HEAD].lower()  # bounded: never lower-case a whole prompt
        if any(word in head for word in mk.COMPLETION_ENGINE_WORDS):
            cast = next((p for p in mk.COMPLETION_ENGINE_SYSTEM if p in head), None)
            if cast:
                break
    if cast is None and not view.single_exchange:
        return None
    sections = next(
        (before for before, after in mk.CURSOR_SECTIONS
         for t in view.last_user
         if mk.find_in_window(t, before, mk.HOLE_HEAD, mk.HOLE_TAIL)
         and mk.find_in_window(t, after, mk.HOLE_HEAD, mk.HOLE_TAIL)),
        None,
    )
    cursor = _first_hole(view.last_user, mk.CURSOR_MARKS)
    if cast and (sections or cursor):
        found = f"{sections} sections" if sections else f"cursor marker {cursor!r}"
        return f"content: completion-engine system prompt ({cast!r}) with {found}"
    if sections and cursor:
        return f"content: {sections} sections and cursor marker {cursor!r} in a one-shot chat"
    return None


def _first_hole(texts: tuple[str, ...], needles: tuple[str, ...]) -> str | None:
    for text in texts:
        found = mk.first_literal(text, needles, mk.HOLE_HEAD, mk.HOLE_TAIL)
        if found:
            return found
    return None


def _sampling_hints(body: dict[str, Any]) -> str:
    """Completion-like sampling settings, as a reason suffix ('' when there are none)."""
    hints: list[str] = []
    temp = body.get("temperature")
    if _is_number(temp) and temp <= _HOLE_MAX_TEMPERATURE:
        hints.append(f"temperature {temp}")
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = body.get(key)
        if _is_number(value) and value <= _HOLE_MAX_TOKENS:
            hints.append(f"{key} {value}")
            break
    stop = body.get("stop")
    stops = stop if isinstance(stop, list) else [stop]
    hole_stop = next((s for s in stops if isinstance(s, str) and s in mk.HOLE_STOPS), None)
    if hole_stop:
        hints.append(f"stop {hole_stop!r}")
    return f" ({', '.join(hints)})" if hints else ""


def _is_number(value: Any) -> TypeGuard[int | float]:
    # bool is an int subclass, and NaN compares unequal to itself: neither is a setting.
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _side_job(view: View) -> str | None:
    """Commit messages, titles, prompt rewriting: one-shot text jobs, often from agents."""
    if not view.single_exchange:
        return None
    for text in view.system + view.last_user[:1]:
        head = text[: mk.LOWER_HEAD].lower()  # bounded: never lower-case a whole body
        for word in mk.SIDE_JOB_WORDS:  # every side-job phrase holds one of these words
            if word in head:
                break
        else:
            continue
        for needle, label in mk.SIDE_JOBS:
            if needle in head:
                return label
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _agent_client(headers: Mapping[str, str]) -> str | None:
    """A short description of the agent client the headers name, or None."""
    ua = _header(headers, "user-agent")
    if ua:
        low = ua[:64].lower()
        if low.startswith(mk.AGENT_USER_AGENTS):
            return f"User-Agent {ua[:32]!r}"
    title = _header(headers, "x-title")
    if title and title[:32].strip().lower() in mk.AGENT_TITLES:
        return f"X-Title {title[:32]!r}"
    originator = _header(headers, "originator")
    if originator and originator[:32].startswith(mk.AGENT_ORIGINATOR_PREFIX):
        return f"originator {originator[:32]!r}"
    return None
