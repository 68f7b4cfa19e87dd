"""Replay a plan through the official OpenAI SDK (async client, bounded concurrency).

Every request streams, as editors and agents do, so time to first token is measured here,
client-side: from the call to the first chunk carrying text or a tool call. What laneway
said about each request (its `x-laneway-*` headers) is kept as an `Obs`; nothing about
caching or routing is assumed, only read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai

from router.demo import agent_bodies as ab
from router.demo import bodies as b
from router.demo.mix import AgentRun, Edit, Plan, Questions, Session, Typing


@dataclass(slots=True)
class Obs:
    """One request as the client saw it."""

    kind: str  # what was sent, e.g. "completion:qwen", "agentic:cline"
    expected: str  # the lane the demo meant it for
    lane: str = ""  # x-laneway-lane ("" when the request failed before an answer)
    model: str = ""
    cache: str = ""
    trimmed: int = 0  # x-laneway-trimmed-tokens
    ttft_s: float | None = None
    prompt_tokens: int | None = None  # from the stream's usage chunk, when it got that far
    completion_tokens: int | None = None
    aborted: bool = False  # superseded by the next keystroke after its first token
    error: str | None = None


@dataclass(slots=True)
class Answer:
    text: str
    tool_calls: list[dict[str, Any]]


class Replayer:
    def __init__(self, client: openai.AsyncOpenAI, concurrency: int,
                 on_done: Callable[[Obs], None] = lambda _: None) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(concurrency)
        self.on_done = on_done
        self.observations: list[Obs] = []

    async def run(self, plan: Plan) -> list[Obs]:
        async with asyncio.TaskGroup() as tg:
            for s in plan.sessions:
                tg.create_task(self._session(s))
        return self.observations

    async def _session(self, s: Session) -> None:
        if isinstance(s, Typing):
            for edit in s.edits:
                await self._edit(s, edit)
        elif isinstance(s, Questions):
            await self._questions(s)
        elif s.kind == "cline":
            await self._cline(s)
        else:
            await self._tools(s)

    # -- completion: one edit = a burst, typeahead, maybe a repeat ---------------------------

    async def _edit(self, s: Typing, e: Edit) -> None:
        text, kind = e.file.text, f"completion:{s.style}"
        before, suffix = text[: e.line_start], text[e.line_end:]

        def body(prefix: str) -> dict[str, Any]:
            return b.fim_body(s.style, prefix, suffix, e.file.path, s.context)

        answer = Answer("", [])
        # Keystrokes spread over what the user types; each request but the last is
        # superseded by the next keystroke once its first token is in.
        for i in range(e.burst):
            k = max(1, round(len(e.typed) * (i + 1) / e.burst))
            last = body(before + e.typed[:k])
            answer = await self._send("completions", last, kind, "completion",
                                      abort=i < e.burst - 1)
        prefix = before + e.typed
        for _ in range(e.accepts):
            # The user types the suggestion's first characters: typeahead's case.
            taken = _first_word(answer.text)
            prefix += taken
            answer = await self._send("completions", body(prefix), kind + ":typeahead",
                                      "completion")
        if e.repeat:
            await self._send("completions", last, kind + ":repeat", "completion")

    # -- qa -------------------------------------------------------------------------------

    async def _questions(self, s: Questions) -> None:
        for chat in s.chats:
            kind = "qa:" + _qa_kind(chat.body)
            answer = await self._send("chat", chat.body, kind, "qa")
            messages = list(chat.body["messages"])
            for follow_up in chat.follow_ups:
                messages += [{"role": "assistant", "content": answer.text},
                             {"role": "user", "content": follow_up}]
                answer = await self._send("chat", chat.body | {"messages": messages},
                                          "qa:follow-up", "qa")
            if chat.repeat:
                await self._send("chat", chat.body, kind + ":repeat", "qa")

    # -- agentic ----------------------------------------------------------------------------

    async def _tools(self, run: AgentRun) -> None:
        files = "\n".join(f.path for f in run.files)
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": f"{run.task}\n\nRelevant files:\n{files}"}]
        picks = iter(run.tools)
        for step in range(run.steps):
            after_result = messages[-1]["role"] == "tool"
            body = ab.tools_body(messages, None if after_result else next(picks, None))
            answer = await self._send("chat", body, "agentic:tools", "agentic")
            if answer.tool_calls:
                messages.append({"role": "assistant", "content": answer.text or None,
                                 "tool_calls": answer.tool_calls})
                for n, call in enumerate(answer.tool_calls):
                    fn = call["function"]
                    result = ab.tool_result(fn["name"], {}, run.files, step * 7 + n)
                    messages.append({"role": "tool", "tool_call_id": call["id"],
                                     "content": result})
            else:
                messages += [{"role": "assistant", "content": answer.text},
                             {"role": "user", "content": ab.NUDGES[step % len(ab.NUDGES)]}]

    async def _cline(self, run: AgentRun) -> None:
        messages: list[dict[str, Any]] = [ab.cline_task(run.task, run.files)]
        for step in range(run.steps):
            answer = await self._send("chat", ab.cline_body(messages), "agentic:cline",
                                      "agentic")
            tool = ab.CLINE_TOOLS[step % len(ab.CLINE_TOOLS)]
            messages += [{"role": "assistant", "content": answer.text},
                         ab.cline_result(tool, run.files, step + 1)]

    # -- one streamed request ---------------------------------------------------------------

    async def _send(self, api: str, body: dict[str, Any], kind: str, expected: str,
                    abort: bool = False) -> Answer:
        obs = Obs(kind, expected)
        answer = Answer("", [])
        async with self.slots:
            started = time.perf_counter()
            try:
                endpoint: Any = (self.client.completions if api == "completions"
                                 else self.client.chat.completions)
                async with endpoint.with_streaming_response.create(**body) as resp:
                    h = resp.headers
                    obs.lane, obs.model = h.get("x-laneway-lane", ""), h.get("x-laneway-model", "")
                    obs.cache = h.get("x-laneway-cache", "")
                    obs.trimmed = int(h.get("x-laneway-trimmed-tokens") or 0)
                    async for chunk in await resp.parse():
                        if _collect(chunk, answer) and obs.ttft_s is None:
                            obs.ttft_s = time.perf_counter() - started
                            if abort:
                                obs.aborted = True
                                break  # leaving the block closes the connection
                        if chunk.usage is not None:
                            obs.prompt_tokens = chunk.usage.prompt_tokens
                            obs.completion_tokens = chunk.usage.completion_tokens
            except openai.OpenAIError as exc:
                obs.error = f"{type(exc).__name__}: {exc}"[:300]
        self.observations.append(obs)
        self.on_done(obs)
        return answer


def _collect(chunk: Any, into: Answer) -> bool:
    """Add a chunk's text and tool-call fragments to `into`; True if it carried any."""
    got = False
    for choice in chunk.choices or ():
        delta = getattr(choice, "delta", None)
        text = choice.text if delta is None else delta.content
        if text:
            into.text += text
            got = True
        for tc in (delta.tool_calls or ()) if delta is not None else ():
            while len(into.tool_calls) <= tc.index:
                into.tool_calls.append({"id": "", "type": "function",
                                        "function": {"name": "", "arguments": ""}})
            call = into.tool_calls[tc.index]
            call["id"] = tc.id or call["id"]
            if tc.function is not None:
                call["function"]["name"] += tc.function.name or ""
                call["function"]["arguments"] += tc.function.arguments or ""
            got = True
    return got


def _first_word(text: str) -> str:
    """What a user types of a suggestion before asking again: up to its first word break."""
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    cut = next((i for i, c in enumerate(stripped) if c in " (.,:=\n" and i > 0), len(stripped))
    return text[: lead + min(cut, 8)]


def _qa_kind(body: dict[str, Any]) -> str:
    system = body["messages"][0]
    if system["role"] != "system":
        return "commit-message"
    return "aider-ask" if "Act as an expert code analyst" in system["content"] else "chat"
