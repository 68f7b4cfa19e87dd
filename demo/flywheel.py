"""The demo's flywheel phase: an experiment that decides on its own, and what an accepted
completion costs before and after.

A second laneway on the same fleet runs the experiment `completion-scope` on the
completion lane: arm `block` (multi-line answers) against arm `line` (the rest of the
line), on the small coder. Simulated users (fleet/users.py, seeded) take each completion
with its model's and scope's probability and say so with Tabby's `select` event. The
experiment is read from `GET /laneway/experiments` as traffic flows; once it is decided
(mSPRT, always valid, 95%) the winner is promoted and a last batch measures the "after".
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx

from fleet.users import Users

EXPERIMENT = {
    "name": "completion-scope", "lane": "completion", "min_shown": 60, "confidence": 0.95,
    "promote": True,
    "arms": [{"name": "block", "model": "qwen3-coder-1.5b", "scope": "block"},
             {"name": "line", "model": "qwen3-coder-1.5b", "scope": "line"}],
}
BATCH = 48


@dataclass
class FlywheelResult:
    decided_after: int | None  # completions sent when the decision was seen (None: not yet)
    report: dict[str, Any]  # the experiment as GET /laneway/experiments gave it then
    after_completions: int = 0
    after_acceptance: float | None = None
    after_cost_per_accepted: float | None = None


def _prompt(i: int) -> str:
    # Unique per completion (no cache hit), a cursor where a block may begin.
    return (f"<|file_sep|>src/shapes_{i % 17}.py\n<|fim_prefix|>def area_{i}(r):\n"
            f"    <|fim_suffix|>\n<|fim_middle|>")


async def _complete(client: httpx.AsyncClient, users: Users, i: int) -> None:
    body = {"model": "auto", "prompt": _prompt(i), "max_tokens": 48, "temperature": 0.2,
            "user": f"dev-{i % 40}"}
    r = await client.post("/v1/completions", json=body)
    if r.status_code != 200:
        return
    cid = r.headers["x-laneway-completion-id"]
    model = r.headers["x-laneway-model"]
    scope = r.headers.get("x-laneway-completion-scope", "block")
    if users.accepts(model, scope, cid):
        await client.post("/v1/events", json={"type": "select", "completion_id": cid,
                                              "choice_index": 0})


async def _batch(client: httpx.AsyncClient, users: Users, start: int, n: int,
                 concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await _complete(client, users, i)

    await asyncio.gather(*(one(i) for i in range(start, start + n)))


async def _experiment(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/laneway/experiments")
    exp: dict[str, Any] = r.json()["experiments"][0]
    return exp


async def run(url: str, budget: int, seed: int, concurrency: int = 12) -> FlywheelResult:
    """Up to `budget` completions until decided, then half as many after promotion."""
    users = Users(seed=seed)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        sent = 0
        exp = await _experiment(client)
        while exp["status"] == "running" and sent < budget:
            await _batch(client, users, sent, BATCH, concurrency)
            sent += BATCH
            await asyncio.sleep(1.2)  # laneway decides on its once-a-second sync
            exp = await _experiment(client)
        if exp["status"] != "decided":
            return FlywheelResult(None, exp)
        result = FlywheelResult(sent, exp)
        winner = next(a for a in exp["arms"] if a["name"] == exp["winner"])
        n = max(BATCH, sent // 2)
        await _batch(client, users, sent, n, concurrency)
        await asyncio.sleep(1.2)
        later = next(a for a in (await _experiment(client))["arms"] if a["name"] == exp["winner"])
        shown = later["shown"] - winner["shown"]
        accepted = later["accepted"] - winner["accepted"]
        cost = _cost(later) - _cost(winner)
        result.after_completions = shown
        result.after_acceptance = accepted / shown if shown else None
        result.after_cost_per_accepted = cost / accepted if accepted else None
        return result


def _cost(arm: dict[str, Any]) -> float:
    per = arm["cost_usd_per_accepted"]
    return float(per) * arm["accepted"] if per is not None else 0.0


def to_console(result: FlywheelResult, console: Any) -> None:
    """The experiment's arms, its decision, and cost per accepted completion before/after."""
    from rich.table import Table

    exp = result.report
    t = Table(title=f"Flywheel: experiment {exp['name']} on the {exp['lane']} lane",
              title_justify="left")
    for col in ("arm", "model", "units", "shown", "accepted", "acceptance", "95% interval",
                "$ per 1k accepted"):
        t.add_column(col, justify="left" if col in ("arm", "model") else "right")
    for a in exp["arms"]:
        rate = a["acceptance_rate"]
        per = a["cost_usd_per_accepted"]
        t.add_row(a["name"] + (" (winner)" if a["name"] == exp["winner"] else ""),
                  a["model"] or "", str(a["units"]), str(a["shown"]), str(a["accepted"]),
                  f"{rate:.1%}" if rate is not None else "-",
                  f"{a['ci95'][0]:.0%}-{a['ci95'][1]:.0%}",
                  f"${per * 1000:.4f}" if per is not None else "-")
    console.print(t)
    if result.decided_after is None:
        console.print(f"[yellow]Not decided yet after {sum(a['shown'] for a in exp['arms'])} "
                      "completions (min_shown per arm first; a real difference decides "
                      "sooner).[/yellow]")
        return
    loser = next(a for a in exp["arms"] if a["name"] != exp["winner"])
    before = loser["cost_usd_per_accepted"]
    console.print(
        f"[bold]Decided after {result.decided_after} completions[/bold]: "
        f"{exp['winner']!r} wins (mSPRT, always-valid at 95%, checked every second) and is "
        f"promoted to all users."
    )
    if result.after_cost_per_accepted is not None and before:
        after = result.after_cost_per_accepted
        console.print(
            f"Cost per accepted completion: [bold]${before * 1000:.4f}[/bold] per 1k before "
            f"(arm {loser['name']!r}), [bold green]${after * 1000:.4f}[/bold green] per 1k after "
            f"promotion ({result.after_completions} completions, acceptance "
            f"{(result.after_acceptance or 0):.1%}): "
            f"{100 * (1 - after / before):.0f}% less."
        )
    console.print("[dim]Simulated users (fleet/users.py) accept with per-model and per-scope "
                  "probabilities and send Tabby's select event; GET /laneway/experiments.[/dim]")
