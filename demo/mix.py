"""The demo's traffic: a production-like mix of sessions, fixed by a seed.

~70% of requests are completions, as typing sessions: for each edit a burst of keystroke
requests (all but the last superseded), then typeahead (the user types the first characters
of the suggestion and the editor asks again), sometimes a repeat. ~20% are questions, some
asked again at temperature 0, some asked by several developers. ~10% are agent runs whose
context grows with each tool result. Later requests depend on earlier answers (typeahead,
tool calls), so a plan says what to do; `replay` turns it into requests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from demo import agent_bodies as ab
from demo import bodies as b
from demo.bodies import SourceFile

SHARES = {"completion": 0.7, "qa": 0.2, "agentic": 0.1}


@dataclass(frozen=True, slots=True)
class Edit:
    """The user retypes one line of a real file, at `line_start`."""

    file: SourceFile
    line_start: int  # offset where the typed text goes (after the indentation)
    line_end: int  # offset of the line's end: what follows is the suffix
    typed: str  # what the user types before the editor's last request
    burst: int  # keystroke requests; all but the last are superseded
    accepts: int  # typeahead requests
    repeat: bool  # the last burst request is sent again (cursor moved back)

    @property
    def requests(self) -> int:
        return self.burst + self.accepts + self.repeat


@dataclass(frozen=True, slots=True)
class Typing:
    style: str  # bodies.FIM_STYLES
    context: tuple[SourceFile, ...]  # other open files (Qwen repo context, Tabby snippets)
    edits: tuple[Edit, ...]
    lane: str = "completion"

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.edits)


@dataclass(frozen=True, slots=True)
class Chat:
    body: dict[str, Any]  # the first request
    follow_ups: tuple[str, ...] = ()  # further user turns, each after the answer
    repeat: bool = False  # the first request is sent again, as is (temperature 0)

    @property
    def requests(self) -> int:
        return 1 + len(self.follow_ups) + self.repeat


@dataclass(frozen=True, slots=True)
class Questions:
    chats: tuple[Chat, ...]  # one developer's questions, one after another
    lane: str = "qa"

    @property
    def requests(self) -> int:
        return sum(c.requests for c in self.chats)


@dataclass(frozen=True, slots=True)
class AgentRun:
    kind: str  # "tools" (OpenAI tools) | "cline" (XML tools in the system prompt)
    task: str
    files: tuple[SourceFile, ...]
    steps: int
    tools: tuple[str, ...]  # tools-kind: the tool each calling step picks, in turn
    lane: str = "agentic"

    @property
    def requests(self) -> int:
        return self.steps


Session = Typing | Questions | AgentRun


@dataclass(frozen=True, slots=True)
class Plan:
    seed: int
    sessions: tuple[Session, ...] = field(default=())

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.sessions)

    def by_lane(self) -> dict[str, int]:
        out = dict.fromkeys(SHARES, 0)
        for s in self.sessions:
            out[s.lane] += s.requests
        return out


def split(total: int) -> dict[str, int]:
    """Requests per lane; every lane gets at least one (agentic at least two: a loop)."""
    qa = max(1, round(total * SHARES["qa"]))
    agentic = max(2, round(total * SHARES["agentic"]))
    return {"completion": max(1, total - qa - agentic), "qa": qa, "agentic": agentic}


def build(total: int, seed: int) -> Plan:
    rng = random.Random(seed)
    files = b.corpus()
    want = split(total)
    sessions: list[Session] = []
    sessions += _fill(want["completion"], lambda left: typing_session(rng, files, left))
    sessions += _fill(want["qa"], lambda left: questions(rng, files, left))
    sessions += _fill(want["agentic"], lambda left: agent_run(rng, files, left))
    # Interleaved, as traffic arrives: sessions start in this order.
    rng.shuffle(sessions)
    return Plan(seed, tuple(sessions))


def _fill(budget: int, make: Any) -> list[Session]:
    out: list[Session] = []
    while budget > 0:
        s = make(budget)
        out.append(s)
        budget -= s.requests
    return out


# One session of each kind, at most `left` requests: the demo fills its plan with them, the
# load test draws one whenever a user starts a new session.
def typing_session(rng: random.Random, files: tuple[SourceFile, ...], left: int) -> Typing:
    f = rng.choice(files)
    style = rng.choices(b.FIM_STYLES, weights=(5, 2, 2, 2))[0]
    context = tuple(rng.sample(files, 2)) if style in ("qwen", "tabby") else ()
    edits: list[Edit] = []
    for _ in range(rng.randint(2, 4)):
        if left <= 0:
            break
        burst = min(rng.randint(1, 4), left)
        accepts = min(rng.choice((0, 1, 1, 2)), left - burst)
        repeat = rng.random() < 0.3 and left - burst - accepts > 0
        edits.append(_edit(rng, f, burst, accepts, repeat))
        left -= edits[-1].requests
    return Typing(style, context, tuple(edits))


def _edit(rng: random.Random, f: SourceFile, burst: int, accepts: int, repeat: bool) -> Edit:
    lines = f.text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    code = [i for i, line in enumerate(lines)
            if len(line.strip()) >= 12 and not line.lstrip().startswith(("#", '"'))]
    i = rng.choice(code)
    text = lines[i].rstrip("\n")
    indent = len(text) - len(text.lstrip())
    typed = text.strip()[: rng.randint(3, 20)]
    return Edit(f, starts[i] + indent, starts[i] + len(text), typed, burst, accepts, repeat)


def questions(rng: random.Random, files: tuple[SourceFile, ...], left: int) -> Questions:
    chats: list[Chat] = []
    for _ in range(rng.randint(2, 4)):
        if left <= 0:
            break
        chats.append(_chat(rng, files, left))
        left -= chats[-1].requests
    return Questions(tuple(chats))


def _chat(rng: random.Random, files: tuple[SourceFile, ...], left: int) -> Chat:
    kind = rng.choices(("continue", "popular", "aider", "commit"), weights=(5, 2, 2, 1))[0]
    f = rng.choice(files)
    line = rng.randrange(max(1, f.text.count("\n") - 40))
    if kind == "popular":
        # Many developers, same words, temperature 0: one upstream call should serve them all.
        q = b.question_turn(rng.choice(b.POPULAR), None)
        return Chat(b.continue_chat([q], temperature=0))
    if kind == "commit":
        return Chat(b.commit_message(f, line))
    temperature = rng.choice((0.0, 0.0, 0.7))
    repeat = temperature == 0 and rng.random() < 0.4 and left >= 2
    if kind == "aider":
        body = b.aider_ask(rng.choice(b.QUESTIONS), tuple(rng.sample(files, 3)), temperature)
        return Chat(body, repeat=repeat)
    follow = min(rng.choice((0, 0, 1, 2)), left - 1 - repeat)
    body = b.continue_chat([b.question_turn(rng.choice(b.QUESTIONS), f, line)], temperature)
    return Chat(body, tuple(rng.sample(b.FOLLOW_UPS, follow)), repeat)


def agent_run(rng: random.Random, files: tuple[SourceFile, ...], left: int) -> AgentRun:
    kind = rng.choice(("tools", "tools", "cline"))
    steps = min(rng.randint(3, 8), left)
    if 0 < left - steps < 2:
        steps = left  # no run of a single step: a loop has at least two
    tools = tuple(rng.choice(ab.TOOL_NAMES) for _ in range(steps))
    return AgentRun(kind, rng.choice(ab.TASKS), tuple(rng.sample(files, 4)), steps, tools)
