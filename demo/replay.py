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

from demo.mix import Plan, Session
from demo.script import Answer, Request, add_delta, script


@dataclass(slots=True)
class Obs:
    """One request as the client saw it."""

    kind: str  # what was sent, e.g. "completion:qwen", "agentic:cline-xml"
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
        steps = script(s)
        request = next(steps)
        while True:
            answer = await self.send(request)
            try:
                request = steps.send(answer)
            except StopIteration:
                return

    async def send(self, req: Request) -> Answer:
        obs = Obs(req.kind, req.expected)
        answer = Answer()
        api: Any = (self.client.completions if req.api == "completions"
                    else self.client.chat.completions)
        async with self.slots:
            started = time.perf_counter()
            try:
                async with api.with_streaming_response.create(**req.body) as resp:
                    h = resp.headers
                    obs.lane, obs.model = h.get("x-laneway-lane", ""), h.get("x-laneway-model", "")
                    obs.cache = h.get("x-laneway-cache", "")
                    obs.trimmed = int(h.get("x-laneway-trimmed-tokens") or 0)
                    async for chunk in await resp.parse():
                        # A list, not a generator: every choice's delta must be added.
                        got = any([add_delta(c.model_dump(exclude_none=True), answer)
                                   for c in chunk.choices or ()])
                        if got and obs.ttft_s is None:
                            obs.ttft_s = time.perf_counter() - started
                            if req.abort:
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
