"""One measured run: scrape laneway's metrics, replay the plan, scrape again, report."""

from __future__ import annotations

import asyncio
import time

import openai
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo import report as rpt
from demo.mix import Plan
from demo.replay import Obs, Replayer
from demo.scrape import Samples, configured_models, scrape

SETTLE_S = 10.0


async def measure(url: str, plan: Plan, concurrency: int = 12, api_key: str | None = None,
                  progress: bool = False, policy: str = "default") -> rpt.Report:
    before = await asyncio.to_thread(scrape, url, api_key)
    client = openai.AsyncOpenAI(base_url=url.rstrip("/") + "/v1", api_key=api_key or "demo",
                                max_retries=0, timeout=120)
    started = time.perf_counter()
    try:
        with _Progress(plan, progress) as on_done:
            observations = await Replayer(client, concurrency, on_done).run(plan)
    finally:
        await client.close()
    elapsed = time.perf_counter() - started
    answered = sum(1 for o in observations if o.lane)
    after = await settled(url, before, answered, api_key)
    report = rpt.build(observations, after - before, plan.seed, elapsed, policy)
    report.models = await asyncio.to_thread(configured_models, url, api_key)
    report.targets_ms = _targets(policy)
    return report


def _targets(policy: str) -> dict[str, float]:
    """Each lane's time-to-first-token target, when the policy is one this checkout has
    (a --url laneway may run another: then the report draws no target marker)."""
    from policies.policy import PolicyError, load_policy

    try:
        p = load_policy(policy)
    except (PolicyError, OSError):
        return {}
    return {lane: p.lane(lane).ttft_target_ms for lane in rpt.LANES}


async def settled(url: str, before: Samples, answered: int, api_key: str | None) -> Samples:
    """laneway meters a request after its last byte, so the client can be done first: scrape
    until every answered request is counted (bounded; a shortfall shows in the report)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        after = await asyncio.to_thread(scrape, url, api_key)
        if (after - before).total("laneway_requests_total") >= answered:
            return after
        if time.monotonic() > deadline:
            return after
        await asyncio.sleep(0.05)


class _Progress:
    """A rich progress bar fed by the replay's per-request callback (or nothing)."""

    def __init__(self, plan: Plan, show: bool) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[lanes]}"), TimeElapsedColumn(), transient=True,
        ) if show else None
        self.total = plan.requests
        self.done = dict.fromkeys(rpt.LANES, 0)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("replaying", total=self.total, lanes="")
        return self

    def __call__(self, o: Obs) -> None:
        if self.bar is None:
            return
        self.done[o.expected] = self.done.get(o.expected, 0) + 1
        lanes = " · ".join(f"{lane} {n}" for lane, n in self.done.items())
        self.bar.update(self.task, advance=1, lanes=lanes)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
