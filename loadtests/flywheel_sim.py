"""The flywheel, simulated offline: does acceptance-aware routing keep acceptance near the
best model's while cutting the completion lane's cost?

The real Chooser (policies/choose.py, the default policy: acceptance_margin 0.02, explore
0.05) routes a stream of completions among the fleet's coders; the fleet's simulated users
(fleet/users.py) accept each with its model's and scope's probability; the totals go back
into the chooser's acceptance board every `sync_every` completions, as the feedback store's
totals reach every replica. Three ways of routing the same completions, compared:
- rules only: the cheapest model within the latency target (acceptance_margin off);
- acceptance-aware: laneway's default policy;
- always the best: every completion to the model users accept most, among those within
  the latency target.

    python -m loadtests.flywheel_sim [--completions 40000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass

from fleet.users import Users
from policies.catalog import ModelSpec, Tier
from policies.choose import Chooser, Needs
from policies.policy import Policy, load_policy, parse_policy

INPUT_TOKENS, OUTPUT_TOKENS = 1500, 48
NEEDS = Needs(fim=True, input_tokens=INPUT_TOKENS, output_tokens=OUTPUT_TOKENS)
LINE_SHARE = 0.7  # completions that finish a line; the rest are blocks
# (name, tier, USD per million input/output tokens, time to first token in ms)
CODERS = (
    ("qwen3-coder-1.5b", Tier.SMALL, 0.05, 0.20, 40.0),
    ("qwen3-coder-7b", Tier.SMALL, 0.15, 0.60, 90.0),
    ("qwen3-14b", Tier.MEDIUM, 0.35, 1.40, 250.0),
    ("qwen3-235b-a22b", Tier.LARGE, 0.70, 2.80, 900.0),  # over the 300 ms target
)


@dataclass(frozen=True, slots=True)
class Outcome:
    name: str
    completions: int
    accepted: int
    cost_usd: float
    share: dict[str, float]
    settled: float  # acceptance over the second half, once learning has settled


    @property
    def acceptance(self) -> float:
        return self.accepted / self.completions

    @property
    def cost_per_accepted(self) -> float:
        return self.cost_usd / max(1, self.accepted)


def coders() -> tuple[ModelSpec, ...]:
    return tuple(
        ModelSpec(name=name, api_base="http://fleet/v1", provider="openai", upstream_model=name,
                  tier=tier, lanes=frozenset({"completion"}), context_window=32768,
                  price_input=pin, price_output=pout, fim="qwen")
        for name, tier, pin, pout, _ in CODERS
    )


def run(name: str, policy: Policy, completions: int, seed: int, pinned: str | None = None,
        sync_every: int = 50) -> Outcome:
    clock = [0.0]
    chooser = Chooser(coders(), policy, clock=lambda: clock[0])
    ttft = {n: ms for n, *_, ms in CODERS}
    users = Users(seed=seed)
    rng = random.Random(seed)
    shown: dict[str, int] = {}
    taken: dict[str, int] = {}
    cost = 0.0
    late = 0
    for i in range(completions):
        clock[0] += 0.05  # 20 completions a second, across the team
        if pinned is None:
            model = chooser.choose("completion", NEEDS).candidates[0].model
        else:
            model = chooser.pinned(pinned, "completion", NEEDS).candidates[0].model
        chooser.record_success(model.name, "completion", ttft[model.name] / 1000)
        scope = "line" if rng.random() < LINE_SHARE else "block"
        shown[model.name] = shown.get(model.name, 0) + 1
        if users.accepts(model.name, scope, f"{i}"):
            taken[model.name] = taken.get(model.name, 0) + 1
            late += i >= completions // 2
        cost += model.cost(INPUT_TOKENS, OUTPUT_TOKENS)
        if i % sync_every == 0:
            for m, n in shown.items():
                chooser.acceptance.absorb("completion", m, n, taken.get(m, 0), clock[0])
    total = sum(taken.values())
    share = {m: n / completions for m, n in sorted(shown.items())}
    return Outcome(name, completions, total, cost, share, late / (completions - completions // 2))


def compare(completions: int = 40_000, seed: int = 7) -> tuple[Outcome, Outcome, Outcome]:
    default = load_policy("default")
    rules = parse_policy({"completion": {"acceptance_margin": None, "explore": 0}}, "rules")
    users = Users(seed=seed)
    within = [n for n, *_, ms in CODERS if ms <= default.completion.ttft_target_ms]
    best = max(within, key=lambda n: LINE_SHARE * users.probability(n, "line")
               + (1 - LINE_SHARE) * users.probability(n, "block"))
    return (
        run("rules only (cheapest)", rules, completions, seed),
        run("acceptance-aware", default, completions, seed),
        run(f"always {best}", rules, completions, seed, pinned=best),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--completions", type=int, default=40_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print(f"{args.completions} completions, seed {args.seed}")
    print(f"{'routing':<28} {'acceptance':>10} {'2nd half':>8} {'cost':>9} "
          f"{'$/1k accepted':>13}  traffic")
    for o in compare(args.completions, args.seed):
        mix = ", ".join(f"{m} {s:.0%}" for m, s in o.share.items() if s >= 0.005)
        print(f"{o.name:<28} {o.acceptance:>10.1%} {o.settled:>8.1%} ${o.cost_usd:>8.3f} "
              f"${o.cost_per_accepted * 1000:>12.3f}  {mix}")


if __name__ == "__main__":
    main()
