"""What a session sends, request by request, given the answers so far.

A session is a generator: it yields a `Request`, is sent back the `Answer`, and yields the
next one (typeahead types the suggestion's first characters; an agent appends the tool call
and its result). The demo drives it with the async OpenAI SDK, the load test with locust's
client: both send exactly the same traffic.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import orjson

from demo import agent_bodies as ab
from demo import bodies as b
from demo.mix import AgentRun, Edit, Questions, Session, Typing


@dataclass(frozen=True, slots=True)
class Request:
    api: str  # "completions" | "chat"
    body: dict[str, Any]
    kind: str  # "<lane>:<what>", e.g. "completion:qwen:typeahead"; load tests name it so
    expected: str  # the lane it is meant for
    abort: bool = False  # superseded: the client hangs up after the first token

    @property
    def path(self) -> str:
        return "/v1/completions" if self.api == "completions" else "/v1/chat/completions"


@dataclass(slots=True)
class Answer:
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


Script = Generator[Request, Answer, None]


def script(s: Session) -> Script:
    if isinstance(s, Typing):
        for e in s.edits:
            yield from _edit(s, e)
    elif isinstance(s, Questions):
        yield from _questions(s)
    elif s.kind == "cline":
        yield from _cline(s)
    else:
        yield from _tools(s)


def _edit(s: Typing, e: Edit) -> Script:
    text, kind = e.file.text, f"completion:{s.style}"
    before, suffix = text[: e.line_start], text[e.line_end:]

    def body(prefix: str) -> dict[str, Any]:
        return b.fim_body(s.style, prefix, suffix, e.file.path, s.context)

    answer = Answer()
    last: dict[str, Any] = {}
    # Keystrokes spread over what the user types; each request but the last is superseded
    # by the next keystroke once its first token is in.
    for i in range(e.burst):
        k = max(1, round(len(e.typed) * (i + 1) / e.burst))
        last = body(before + e.typed[:k])
        answer = yield Request("completions", last, kind, "completion", abort=i < e.burst - 1)
    prefix = before + e.typed
    for _ in range(e.accepts):
        # The user types the suggestion's first characters: typeahead's case.
        prefix += first_word(answer.text)
        answer = yield Request("completions", body(prefix), kind + ":typeahead", "completion")
    if e.repeat:
        yield Request("completions", last, kind + ":repeat", "completion")


def _questions(s: Questions) -> Script:
    for chat in s.chats:
        kind = "qa:" + qa_kind(chat.body)
        answer = yield Request("chat", chat.body, kind, "qa")
        messages = list(chat.body["messages"])
        for follow_up in chat.follow_ups:
            messages += [{"role": "assistant", "content": answer.text},
                         {"role": "user", "content": follow_up}]
            answer = yield Request("chat", chat.body | {"messages": messages}, "qa:follow-up",
                                   "qa")
        if chat.repeat:
            yield Request("chat", chat.body, kind + ":repeat", "qa")


def _tools(run: AgentRun) -> Script:
    files = "\n".join(f.path for f in run.files)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": f"{run.task}\n\nRelevant files:\n{files}"}]
    picks = iter(run.tools)
    for step in range(run.steps):
        after_result = messages[-1]["role"] == "tool"
        body = ab.tools_body(messages, None if after_result else next(picks, None))
        answer = yield Request("chat", body, "agentic:tools", "agentic")
        if answer.tool_calls:
            messages.append({"role": "assistant", "content": answer.text or None,
                             "tool_calls": answer.tool_calls})
            for n, call in enumerate(answer.tool_calls):
                result = ab.tool_result(call["function"]["name"], {}, run.files, step * 7 + n)
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        else:
            messages += [{"role": "assistant", "content": answer.text},
                         {"role": "user", "content": ab.NUDGES[step % len(ab.NUDGES)]}]


def _cline(run: AgentRun) -> Script:
    messages: list[dict[str, Any]] = [ab.cline_task(run.task, run.files)]
    for step in range(run.steps):
        answer = yield Request("chat", ab.cline_body(messages), "agentic:cline-xml", "agentic")
        tool = ab.CLINE_TOOLS[step % len(ab.CLINE_TOOLS)]
        messages += [{"role": "assistant", "content": answer.text},
                     ab.cline_result(tool, run.files, step + 1)]


def add_delta(choice: dict[str, Any], into: Answer) -> bool:
    """Add one streamed choice's text and tool-call fragments; True if it carried any."""
    delta = choice.get("delta")
    text = choice.get("text") if delta is None else delta.get("content")
    got = bool(text)
    into.text += text or ""
    for tc in (delta or {}).get("tool_calls") or ():
        while len(into.tool_calls) <= tc["index"]:
            into.tool_calls.append({"id": "", "type": "function",
                                    "function": {"name": "", "arguments": ""}})
        call = into.tool_calls[tc["index"]]
        call["id"] = tc.get("id") or call["id"]
        fn = tc.get("function") or {}
        call["function"]["name"] += fn.get("name") or ""
        call["function"]["arguments"] += fn.get("arguments") or ""
        got = True
    return got


def parse_sse(raw: bytes) -> tuple[Answer, dict[str, Any] | None]:
    """A whole SSE answer: its content, and the error event if the stream ended with one."""
    answer = Answer()
    for line in raw.split(b"\n"):
        if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
            continue
        event = orjson.loads(line[5:])
        if "error" in event:
            return answer, event["error"]
        for choice in event.get("choices") or ():
            add_delta(choice, answer)
    return answer, None


def first_word(text: str) -> str:
    """What a user types of a suggestion before asking again: up to its first word break."""
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    cut = next((i for i, c in enumerate(stripped) if c in " (.,:=\n" and i > 0), len(stripped))
    return text[: lead + min(cut, 8)]


def qa_kind(body: dict[str, Any]) -> str:
    system = body["messages"][0]
    if system["role"] != "system":
        return "commit-message"
    return "aider-ask" if "Act as an expert code analyst" in system["content"] else "chat"
