"""Experiments: sticky weighted assignment, an always-valid decision, promotion, and the
A/A and A/B simulations the contract's promise rests on (offline, seeded)."""

from __future__ import annotations

from collections import Counter

import pytest
from pydantic import ValidationError

from policies.experiment_sim import simulate
from policies.experiments import ArmConfig, ArmCounts, Experiment, ExperimentConfig, unit_of
from policies.sequential import Rate, better_by, difference


def experiment(**kw: object) -> Experiment:
    args: dict[str, object] = {
        "name": "completion-model",
        "arms": (
            ArmConfig(name="small", model="fast-coder", weight=1),
            ArmConfig(name="mid", model="mid-chat", weight=1),
        ),
        "min_shown": 200,
    } | kw
    return Experiment(ExperimentConfig(**args))  # type: ignore[arg-type]


def test_the_contract_sample_is_accepted_as_written() -> None:
    cfg = ExperimentConfig.model_validate(
        {
            "name": "completion-model",
            "lane": "completion",
            "arms": [
                {"name": "small", "model": "fast-coder", "weight": 1},
                {"name": "mid", "model": "mid-chat", "weight": 1},
            ],
            "min_shown": 200,
            "confidence": 0.95,
            "promote": True,
        }
    )
    assert [a.name for a in cfg.arms] == ["small", "mid"]


def test_arms_with_policy_overrides_and_bad_configs() -> None:
    cfg = ExperimentConfig.model_validate(
        {"name": "cap", "arms": [{"name": "short", "max_output_tokens": 32, "scope": "line"},
                                 {"name": "long", "max_output_tokens": 256, "input_tokens": 2048}]}
    )
    assert cfg.arms[0].scope == "line" and cfg.arms[1].input_tokens == 2048
    with pytest.raises(ValidationError, match="distinct"):
        ExperimentConfig.model_validate({"name": "x", "arms": [{"name": "a"}, {"name": "a"}]})
    with pytest.raises(ValidationError, match=r"arms\.0\.colour"):
        ExperimentConfig.model_validate({"name": "x", "arms": [{"name": "a", "colour": 1},
                                                               {"name": "b"}]})
    with pytest.raises(ValidationError):
        ExperimentConfig.model_validate({"name": "x", "arms": [{"name": "a"}]})


def test_a_unit_keeps_its_arm_and_weights_set_the_split() -> None:
    exp = experiment()
    first = {f"user-{i}": exp.assign(f"user-{i}").name for i in range(2000)}
    again = experiment()  # another replica, or after a restart: no shared state needed
    assert all(again.assign(u).name == arm for u, arm in first.items())
    split = Counter(first.values())
    assert 900 < split["small"] < 1100
    weighted = experiment(arms=(ArmConfig(name="a", weight=3), ArmConfig(name="b", weight=1)))
    split = Counter(weighted.assign(f"user-{i}").name for i in range(4000))
    assert 2800 < split["a"] < 3200


def test_the_unit_is_the_user_then_the_header_then_the_tenant() -> None:
    assert unit_of("alice", "bob", "team-a") == "alice"
    assert unit_of(None, "bob", "team-a") == "bob"
    assert unit_of(7, None, "team-a") == "team-a"


def test_no_decision_before_min_shown_then_the_better_arm_wins() -> None:
    exp = experiment()
    assert exp.decide({"small": ArmCounts(199, 20), "mid": ArmCounts(400, 200)}) is None
    assert exp.decide({"small": ArmCounts(200, 20), "mid": ArmCounts(400, 200)}) == "mid"
    assert exp.decide({"small": ArmCounts(200, 55), "mid": ArmCounts(200, 60)}) is None
    assert exp.decide({}) is None


def test_promotion_sends_every_unit_to_the_winner_only_when_promote_is_on() -> None:
    exp = experiment()
    assert {exp.assign(f"u{i}", winner="mid").name for i in range(200)} == {"mid"}
    kept = experiment(promote=False)
    assert {kept.assign(f"u{i}", winner="mid").name for i in range(200)} == {"small", "mid"}


def test_three_arms_need_the_winner_to_beat_each_other_arm() -> None:
    exp = experiment(arms=tuple(ArmConfig(name=n) for n in ("a", "b", "c")), min_shown=100)
    tie = {"a": ArmCounts(400, 80), "b": ArmCounts(400, 200), "c": ArmCounts(400, 190)}
    assert exp.decide(tie) is None
    clear = {"a": ArmCounts(400, 80), "b": ArmCounts(400, 200), "c": ArmCounts(400, 90)}
    assert exp.decide(clear) == "b"


def test_the_interval_narrows_with_data_and_respects_the_margin() -> None:
    wide = difference(Rate(10, 50), Rate(20, 50), 0.05)
    narrow = difference(Rate(1000, 5000), Rate(2000, 5000), 0.05)
    assert narrow[1] - narrow[0] < (wide[1] - wide[0]) / 5
    assert narrow[0] < 0.2 < narrow[1]
    assert better_by(Rate(1000, 5000), Rate(2000, 5000), 0.02, 0.95)
    assert not better_by(Rate(1000, 5000), Rate(1080, 5000), 0.02, 0.95)


def test_a_a_experiments_declare_a_winner_in_at_most_5_percent_of_runs() -> None:
    # Checked after every single completion, up to 2,000 of them per run.
    result = simulate(0.27, 0.27, runs=200, min_shown=200, horizon=2000, seed=11)
    assert result.decided / result.runs <= 0.05


def test_a_b_15_vs_45_percent_is_decided_correctly_in_99_percent_of_runs() -> None:
    result = simulate(0.15, 0.45, runs=200, min_shown=20, horizon=2000, seed=11)
    assert result.correct / result.runs >= 0.99
    # The rule alone (min_shown 20) needs about a hundred completions in all.
    assert result.median_completions < 200
