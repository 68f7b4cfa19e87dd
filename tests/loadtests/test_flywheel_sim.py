"""The flywheel simulated offline (seeded): acceptance-aware routing learns which coder
users take, keeps acceptance within a point of always using the best one, and costs less
than half as much; rules alone pick the cheapest and lose a third of the acceptances."""

from __future__ import annotations

from fleet.users import Users
from loadtests.flywheel_sim import compare


def test_acceptance_aware_routing_keeps_acceptance_and_cuts_cost() -> None:
    rules, aware, best = compare(completions=30_000, seed=7)
    assert best.share == {"qwen3-14b": 1.0}
    assert aware.settled >= best.settled - 0.01
    assert aware.acceptance >= best.acceptance - 0.015  # the cold start included
    assert aware.cost_usd < 0.5 * best.cost_usd
    assert aware.share["qwen3-coder-7b"] > 0.8
    assert rules.acceptance < aware.acceptance - 0.08


def test_simulated_users_accept_per_model_and_scope() -> None:
    users = Users(seed=3)
    line = sum(users.accepts("qwen3-14b", "line", f"{i}") for i in range(20_000)) / 20_000
    block = sum(users.accepts("qwen3-14b", "block", f"{i}") for i in range(20_000)) / 20_000
    small = sum(users.accepts("qwen3-coder-1.5b", "line", f"{i}") for i in range(20_000))
    small /= 20_000
    assert abs(line - 0.35) < 0.01 and abs(block - 0.28) < 0.01 and abs(small - 0.24) < 0.01
    again = Users(seed=3)  # the same verdicts in another run
    verdicts = [users.accepts("qwen3-14b", "line", f"{i}") for i in range(100)]
    assert verdicts == [again.accepts("qwen3-14b", "line", f"{i}") for i in range(100)]
