"""Offline, seeded simulations of an experiment decided by `Experiment.decide`.

Each run shows completions to two arms in turn, draws acceptance with the arms' true
rates, and asks for a decision after every completion (continuous monitoring, the worst
case for a fixed-sample test). A run ends at a decision or at `horizon` completions.

    python -m policies.experiment_sim          # the A/A and A/B figures of the docs
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from policies.experiments import ArmConfig, ArmCounts, Experiment, ExperimentConfig


@dataclass(frozen=True, slots=True)
class SimResult:
    runs: int
    decided: int  # runs with any winner
    correct: int  # runs whose winner is the arm with the higher true rate
    completions: tuple[int, ...]  # completions shown (both arms) when each decided run decided

    @property
    def median_completions(self) -> int:
        done = sorted(self.completions)
        return done[len(done) // 2] if done else 0


def simulate(
    rate_a: float,
    rate_b: float,
    *,
    runs: int = 200,
    min_shown: int = 200,
    confidence: float = 0.95,
    horizon: int = 4000,
    seed: int = 1,
) -> SimResult:
    exp = Experiment(
        ExperimentConfig(
            name="sim",
            arms=(ArmConfig(name="a"), ArmConfig(name="b")),
            min_shown=min_shown,
            confidence=confidence,
        )
    )
    truth = {"a": rate_a, "b": rate_b}
    better = "b" if rate_b > rate_a else "a" if rate_a > rate_b else None
    rng = random.Random(seed)
    decided = correct = 0
    needed: list[int] = []
    for _ in range(runs):
        shown = {"a": 0, "b": 0}
        accepted = {"a": 0, "b": 0}
        for i in range(horizon):
            arm = "a" if i % 2 == 0 else "b"
            shown[arm] += 1
            accepted[arm] += rng.random() < truth[arm]
            if shown["b"] < min_shown:
                continue  # decide() would say None: skip building the counts
            winner = exp.decide(
                {n: ArmCounts(shown[n], accepted[n]) for n in ("a", "b")}
            )
            if winner is not None:
                decided += 1
                correct += winner == better
                needed.append(i + 1)
                break
    return SimResult(runs, decided, correct, tuple(needed))


def main() -> None:
    aa = simulate(0.27, 0.27, runs=400, seed=7)
    print(
        f"A/A 27% vs 27%, {aa.runs} runs, min_shown 200, horizon 4000, checked after every "
        f"completion: {aa.decided} false decisions ({aa.decided / aa.runs:.1%})"
    )
    for min_shown in (200, 20):
        ab = simulate(0.15, 0.45, runs=400, seed=7, min_shown=min_shown)
        print(
            f"A/B 15% vs 45%, {ab.runs} runs, min_shown {min_shown}: {ab.correct} correct "
            f"({ab.correct / ab.runs:.1%}), median {ab.median_completions} completions "
            f"(max {max(ab.completions, default=0)})"
        )


if __name__ == "__main__":
    main()
