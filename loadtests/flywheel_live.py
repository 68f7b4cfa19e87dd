"""The flywheel through the real proxy: simulated users on the fleet, three ways of routing.

    .venv/bin/python -m loadtests.flywheel_live [--completions 6000] [--seed 7]

Starts the fleet and, per routing, a fresh laneway whose completion lane has three coders
(1.5B, 7B, 14B at the fleet's list prices; the fleet answers the 7B with its default
profile). A client-side simulator sends unique FIM completions as many users and, for each
answer, asks the fleet's simulated users (fleet/users.py) whether it was taken; a taken
one gets Tabby's `select` event. Acceptance and cost come from laneway's own /metrics
(completions_shown/accepted_total, cost_usd_total of the completion lane):
- rules only: a policy with `acceptance_margin: null, explore: 0` (the cheapest model);
- acceptance-aware: the default policy;
- always the best: every completion pinned to the 14B.
Offline and far faster, with the same chooser: `python -m loadtests.flywheel_sim`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from demo.stack import _spawn, _wait_ready, free_port
from fleet.users import Users

CODERS = [("qwen3-coder-1.5b", "small", 0.05, 0.20), ("qwen3-coder-7b", "small", 0.15, 0.60),
          ("qwen3-14b", "medium", 0.35, 1.40)]


def config(fleet_url: str, policy: str) -> dict[str, Any]:
    return {"policy": policy, "models": [
        {"name": n, "api_base": fleet_url + "/v1", "tier": tier, "lanes": ["completion"],
         "fim": "qwen", "price_per_mtok": {"input": pin, "output": pout}}
        for n, tier, pin, pout in CODERS
    ] + [{"name": "qwen3-235b-a22b", "api_base": fleet_url + "/v1", "tier": "large",
          "lanes": ["qa", "agentic"]}]}


async def drive(url: str, n: int, seed: int, model: str, concurrency: int = 16) -> None:
    users = Users(seed=seed)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        async def one(i: int) -> None:
            async with gate:
                body = {"model": model, "max_tokens": 24, "temperature": 0.2,
                        "user": f"dev-{i % 50}",
                        "prompt": f"<|file_sep|>src/m{i % 23}.py\n<|fim_prefix|>def f_{i}(x):\n"
                                  f"    return <|fim_suffix|>\n<|fim_middle|>"}
                r = await client.post("/v1/completions", json=body)
                if r.status_code != 200:
                    return
                cid = r.headers["x-laneway-completion-id"]
                scope = "line" if i % 10 < 7 else "block"  # as the offline simulation
                if users.accepts(r.headers["x-laneway-model"], scope, f"{i}"):
                    await client.post("/v1/events", json={"type": "select",
                                                          "completion_id": cid})

        await asyncio.gather(*(one(i) for i in range(n)))


def totals(url: str) -> dict[str, float]:
    out = {"shown": 0.0, "accepted": 0.0, "cost": 0.0}
    by_model: dict[str, float] = {}
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics", timeout=10).text):
        for s in fam.samples:
            if s.labels.get("lane") != "completion":
                continue
            if s.name == "laneway_completions_shown_total":
                out["shown"] += s.value
                by_model[s.labels["model"]] = by_model.get(s.labels["model"], 0) + s.value
            elif s.name == "laneway_completions_accepted_total":
                out["accepted"] += s.value
            elif s.name == "laneway_cost_usd_total":
                out["cost"] += s.value
    out.update({f"share:{m}": v for m, v in by_model.items()})
    return out


def run(name: str, fleet_url: str, tmp: Path, policy: str, model: str, n: int,
        seed: int) -> dict[str, float]:
    port = free_port()
    path = tmp / f"laneway-{port}.yaml"
    path.write_text(yaml.safe_dump(config(fleet_url, policy)))
    svc = _spawn(f"laneway-{name}", [sys.executable, "-m", "router.cli", "serve", "--config",
                                     str(path), "--port", str(port), "--no-access-log"],
                 port, tmp)
    try:
        _wait_ready(svc, "/readyz", time.monotonic() + 60)
        started = time.monotonic()
        asyncio.run(drive(svc.url, n, seed, model))
        time.sleep(1.5)  # the last events drained
        out = totals(svc.url)
        out["seconds"] = time.monotonic() - started
        return out
    finally:
        svc.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--completions", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--routing", action="append", choices=("rules", "aware", "best"),
                    help="only these routings (default: all three)")
    args = ap.parse_args()
    chosen = set(args.routing or ("rules", "aware", "best"))
    with tempfile.TemporaryDirectory(prefix="flywheel-live-") as t:
        tmp = Path(t)
        rules = tmp / "rules.yaml"
        rules.write_text(yaml.safe_dump({"completion": {"acceptance_margin": None,
                                                        "explore": 0}}))
        port = free_port()
        fleet = _spawn("fleet", [sys.executable, "-m", "fleet", "--port", str(port)], port, tmp)
        try:
            _wait_ready(fleet, "/healthz", time.monotonic() + 60)
            plans = [("rules", "rules only (cheapest)", str(rules), "auto"),
                     ("aware", "acceptance-aware", "default", "auto"),
                     ("best", "always qwen3-14b", "default", "qwen3-14b")]
            rows = [(title, run(key, fleet.url, tmp, policy, model, args.completions,
                                args.seed))
                    for key, title, policy, model in plans if key in chosen]
        finally:
            fleet.stop()
    print(f"{args.completions} completions per routing, seed {args.seed}, through laneway")
    for name, r in rows:
        mix = ", ".join(f"{k[6:]} {v / r['shown']:.0%}" for k, v in sorted(r.items())
                        if k.startswith("share:"))
        print(f"{name:<24} acceptance {r['accepted'] / r['shown']:.1%}  cost ${r['cost']:.4f}"
              f"  ($/1k accepted {1000 * r['cost'] / max(1, r['accepted']):.4f})"
              f"  {r['seconds']:.0f} s  {mix}")


if __name__ == "__main__":
    main()
