"""`laneway demo`: the simulated fleet, laneway in front of it, a production-like traffic mix
replayed through the OpenAI SDK, and a report of what laneway did with it.

Modules: `bodies`/`agent_bodies` (what real tools send), `mix` (the sessions, from a seed),
`replay` (the SDK client), `scrape` (laneway's /metrics), `report` (the numbers), `render`
and `html` (the outputs), `stack` (the processes). Nothing heavy is imported until `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from demo.mix import Plan
    from demo.report import Report

DEFAULT_REQUESTS = 300
DEFAULT_HTML = "laneway-demo.html"  # in the current directory (the checkout, with make demo)
QUICK_REQUESTS = 30


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--requests", type=int, default=0,
                   help=f"size of the mix (default {DEFAULT_REQUESTS}; --quick: "
                        f"{QUICK_REQUESTS})")
    p.add_argument("--quick", action="store_true", help="a short run (tests, a first look)")
    p.add_argument("--seed", type=int, default=7, help="the same seed sends the same requests")
    p.add_argument("--concurrency", type=int, default=12, help="requests in flight at most")
    p.add_argument("--policy", default="default", help="laneway's policy (name or path)")
    p.add_argument("--html", metavar="FILE", default=DEFAULT_HTML,
                   help="where to write the report with charts (one self-contained page)")
    p.add_argument("--no-html", dest="html", action="store_const", const=None,
                   help="no HTML report")
    p.add_argument("--markdown", metavar="FILE", help="also write the cost table as Markdown")
    p.add_argument("--url", help="replay against this running laneway instead of starting "
                                 "one (API key: $LANEWAY_API_KEY)")
    p.add_argument("--flywheel", type=int, default=-1, metavar="N",
                   help="completions at most for the flywheel phase (an experiment deciding; "
                        "default 2000, or 240 for a mix under 100 requests; 0 skips it)")


def main(args: argparse.Namespace) -> int:
    import asyncio
    import importlib
    import threading

    from rich.console import Console

    from demo import mix, render, stack

    # The OpenAI SDK takes a second or more to import on a small machine: do it while the
    # fleet and laneway start (a later import waits on this one, it never runs twice).
    threading.Thread(target=importlib.import_module, args=("demo.run",),
                     daemon=True).start()
    # Not a terminal (CI, a pipe): rich would wrap the tables at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=130)
    total = args.requests or (QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS)
    plan = mix.build(total, args.seed)
    policy = args.policy
    if policy.endswith((".yaml", ".yml")) or "/" in policy:
        policy = str(Path(policy).resolve())  # laneway reads it next to its temporary config
    api_key = os.environ.get("LANEWAY_API_KEY")
    lanes = plan.by_lane()
    console.print(f"[bold]laneway demo[/bold]: {plan.requests} requests "
                  f"({', '.join(f'{n} {lane}' for lane, n in lanes.items())}) in "
                  f"{len(plan.sessions)} sessions, seed {args.seed}")
    try:
        if args.url:
            report = asyncio.run(_measure(args.url, plan, args.concurrency, api_key,
                                          f"as configured at {args.url}"))
        else:
            with tempfile.TemporaryDirectory(prefix="laneway-demo-") as tmp, \
                    stack.running(Path(tmp), policy) as (fleet, laneway):
                console.print(f"fleet on {fleet.url}, laneway on {laneway.url} "
                              "(in-process cache, no Redis)")
                report = asyncio.run(_measure(laneway.url, plan, args.concurrency, None, policy))
                render.to_console(report, console)
                _flywheel(args, total, fleet.url, Path(tmp), console)
    except stack.StackError as exc:
        console.print(f"[red]laneway demo: {exc}[/red]")
        return 1
    if args.url:
        render.to_console(report, console)
    if args.html:
        from demo.html import to_html

        page = Path(args.html).resolve()
        page.write_text(to_html(report), encoding="utf-8")
        console.print(f"report with charts: [bold]{page}[/bold] (open it in a browser)")
    if args.markdown:
        Path(args.markdown).write_text(render.to_markdown(report), encoding="utf-8")
    if report.total.errors:
        console.print(f"[red]{report.total.errors} request(s) failed[/red]")
        return 1
    return 0


def _flywheel(args: argparse.Namespace, total: int, fleet_url: str, tmp: Path,
              console: object) -> None:
    """The flywheel phase (demo/flywheel.py), on its own laneway beside the main one."""
    import asyncio

    from demo import flywheel, stack

    budget = args.flywheel if args.flywheel >= 0 else (2000 if total >= 100 else 240)
    if budget == 0:
        return
    with stack.laneway_on(fleet_url, tmp, {"experiments": [flywheel.EXPERIMENT]}) as lw:
        result = asyncio.run(flywheel.run(lw.url, budget, args.seed, args.concurrency))
    flywheel.to_console(result, console)


async def _measure(url: str, plan: Plan, concurrency: int, api_key: str | None,
                   policy: str) -> Report:
    from demo.run import measure

    return await measure(url, plan, concurrency, api_key, progress=True, policy=policy)
