"""Load-test any laneway with the traffic coding tools send, 70/20/10 across the lanes.

    locust -f loadtests/locustfile.py --host http://laneway:8080      # web UI
    LANEWAY_API_KEY=sk-... locust -f loadtests/locustfile.py --host URL --headless -u 50 -t 5m

Each user sends about LOCUST_RATE (default 1) requests per second, so -u sets the load.

Each user replays sessions of the demo's mix (demo): typing sessions with bursts and
typeahead (Continue's Qwen/StarCoder/DeepSeek FIM prompts, Tabby's prompt + suffix),
questions (Continue chat, Aider ask, commit messages), agent runs (OpenAI tools, Cline XML).
Request names carry the lane (`completion:qwen:typeahead`, `qa:chat`, `agentic:cline-xml`),
and a request whose `x-laneway-lane` is not the lane it was written for counts as a failure:
a load test that routes wrongly has not passed.
"""

from __future__ import annotations

import itertools
import os
import random
from typing import ClassVar

from locust import FastHttpUser, constant_throughput, task

from demo import bodies, mix
from demo.script import Answer, Request, Script, parse_sse, script

# Sessions per task: short enough that a user changes files and topics often.
_BUDGET = {"completion": 6, "qa": 3, "agentic": 5}
_USER_NUMBERS = itertools.count()
# Requests per second each simulated user aims for. The same for every class, so the traffic
# splits by the classes' weights, 70/20/10 of requests as in production (an agent step that
# takes longer than 1/rate just goes on at once). Load scales with the number of users.
RATE = float(os.environ.get("LOCUST_RATE", "1"))


class _LanewayUser(FastHttpUser):
    abstract = True
    lane: ClassVar[str] = ""
    # Agent runs carry long contexts; the large model may take a while on a loaded host.
    network_timeout = 120.0
    connection_timeout = 10.0
    wait_time = constant_throughput(RATE)

    def on_start(self) -> None:
        # Each user its own stream of sessions, reproducible from LOCUST_SEED.
        seed = int(os.environ.get("LOCUST_SEED", "0"))
        self.rng = random.Random(seed * 100_003 + next(_USER_NUMBERS))
        self.files = bodies.corpus()
        self.steps: Script | None = None
        self.pending: Request | None = None
        key = os.environ.get("LANEWAY_API_KEY")
        self.headers: dict[str, str] = {}
        if key:
            self.headers["authorization"] = f"Bearer {key}"

    def new_session(self) -> mix.Session:
        raise NotImplementedError

    @task
    def step(self) -> None:
        """One request of the user's current session (a new session when none is going).
        One request per task, so a stopping run waits for one request, not a whole session."""
        if self.steps is None or self.pending is None:
            self.steps = script(self.new_session())
            self.pending = next(self.steps)
        answer = self.send(self.pending)
        if answer is None:
            self.steps = None  # a failed step ends the session, as it would stop a real tool
            return
        try:
            self.pending = self.steps.send(answer)
        except StopIteration:
            self.steps = None

    def send(self, req: Request) -> Answer | None:
        with self.client.post(req.path, json=req.body, headers=self.headers,
                              name=req.kind, catch_response=True) as resp:
            lane = resp.headers.get("x-laneway-lane") if resp.headers else None
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
                return None
            if lane != req.expected:
                resp.failure(f"x-laneway-lane is {lane!r}, expected {req.expected!r}")
                return None
            answer, error = parse_sse(resp.content or b"")
            if error is not None:
                resp.failure(f"stream ended with an error: {error.get('message')}")
                return None
            resp.success()
            return answer


class CompletionUser(_LanewayUser):
    """Typing in an editor: bursts of FIM requests, typeahead, repeats."""

    weight = 70
    lane = "completion"

    def new_session(self) -> mix.Session:
        return mix.typing_session(self.rng, self.files, _BUDGET["completion"])


class QAUser(_LanewayUser):
    """Asking: Continue chat, Aider ask, commit messages; some questions asked again."""

    weight = 20
    lane = "qa"

    def new_session(self) -> mix.Session:
        return mix.questions(self.rng, self.files, _BUDGET["qa"])


class AgentUser(_LanewayUser):
    """An agent loop: OpenAI tools or Cline's XML tools, context growing each step."""

    weight = 10
    lane = "agentic"

    def new_session(self) -> mix.Session:
        return mix.agent_run(self.rng, self.files, _BUDGET["agentic"])
