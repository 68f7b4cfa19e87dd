"""The Chooser's rules, with an injected clock: no sleeps, no randomness."""

from __future__ import annotations

import pytest

from policies.catalog import ModelSpec, Tier
from policies.choose import Chooser, Needs
from policies.policy import load_policy, parse_policy

FIM = Needs(fim=True, input_tokens=2000)
QA = Needs(input_tokens=3000)
AGENT = Needs(tools=True, input_tokens=20000)


def spec(name: str, tier: Tier, lanes: set[str], price: float, **kw: object) -> ModelSpec:
    args: dict[str, object] = {
        "name": name,
        "api_base": "http://x/v1",
        "provider": "openai",
        "upstream_model": name,
        "tier": tier,
        "lanes": frozenset(lanes),
        "context_window": 32768,
        "price_input": price,
        "price_output": price * 4,
        "fim": "qwen",
    } | kw
    return ModelSpec(**args)  # type: ignore[arg-type]


MODELS = (
    spec("tiny-coder", Tier.SMALL, {"completion"}, 0.05),
    spec("fast-coder", Tier.SMALL, {"completion", "qa"}, 0.10),
    spec("mid-chat", Tier.MEDIUM, {"qa", "agentic"}, 0.50, fim=None, supports_suffix=False),
    spec("big-a", Tier.LARGE, {"qa", "agentic"}, 3.00, context_window=131072),
    spec("big-b", Tier.LARGE, {"agentic"}, 2.00, context_window=65536, fallbacks=("mid-chat",)),
    spec("no-tools", Tier.LARGE, {"agentic"}, 1.00, supports_tools=False),
)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def chooser(clock: Clock) -> Chooser:
    return Chooser(MODELS, load_policy("default"), clock=clock)


def names(choice) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.model.name for c in choice.candidates]


def serve(ch: Chooser, clock: Clock, lane: str, needs: Needs, ttft: dict[str, float]) -> str:
    """One request as the pipeline runs it: choose, call the first, record its TTFT."""
    choice = ch.choose(lane, needs)
    model = names(choice)[0]
    ch.record_success(model, lane, ttft[model] / 1000)
    clock.t += 1.0
    return model


def test_completion_takes_the_cheapest_fim_model(chooser: Chooser):
    choice = chooser.choose("completion", FIM)
    assert names(choice) == ["tiny-coder", "fast-coder"]
    assert choice.model is not None and choice.model.name == "tiny-coder"
    assert not choice.probe and choice.retry_after_s is None
    first = choice.candidates[0]
    assert first.predicted_ttft_ms is None and first.within_target and first.healthy
    assert first.predicted_cost_usd == pytest.approx((2000 * 0.05 + 64 * 0.20) / 1e6)
    assert "tiny-coder" in choice.reasons[1]
    rejected = {c.model.name: c.reasons[0] for c in choice.rejected}
    assert rejected["big-a"] == "does not serve completion"


def test_qa_takes_the_cheapest_qa_model(chooser: Chooser):
    assert names(chooser.choose("qa", QA)) == ["fast-coder", "mid-chat", "big-a"]


def test_agentic_takes_the_largest_cheapest_among_equals(chooser: Chooser):
    choice = chooser.choose("agentic", AGENT)
    assert names(choice) == ["big-b", "big-a", "mid-chat"]
    rejected = {c.model.name: c.reasons[0] for c in choice.rejected}
    assert rejected["no-tools"] == "no tool support"


def test_window_and_fim_capabilities_filter(chooser: Chooser):
    big = Needs(tools=True, input_tokens=100_000)
    assert names(chooser.choose("agentic", big)) == ["big-a"]
    qa_fim = Needs(fim=True, input_tokens=100)
    choice = chooser.choose("qa", qa_fim)
    assert "mid-chat" not in names(choice)
    assert any("FIM" in c.reasons[0] for c in choice.rejected)


def test_nothing_fits_is_not_an_ejection(chooser: Chooser):
    choice = chooser.choose("agentic", Needs(tools=True, input_tokens=500_000))
    assert choice.candidates == () and choice.model is None
    assert choice.retry_after_s is None and "no model can serve" in choice.reasons[-1]


def test_slow_cheapest_completion_model_loses_traffic_then_wins_it_back(
    chooser: Chooser, clock: Clock
):
    ttft = {"tiny-coder": 120.0, "fast-coder": 150.0}
    assert {serve(chooser, clock, "completion", FIM, ttft) for _ in range(5)} == {"tiny-coder"}

    ttft["tiny-coder"] = 900.0  # it slows down, well over the 300 ms target
    served = [serve(chooser, clock, "completion", FIM, ttft) for _ in range(4)]
    moved_after = served.index("fast-coder")
    assert moved_after <= 3 and set(served[moved_after:]) == {"fast-coder"}

    # While it is slow, it only gets probes: <= 5% of traffic, >= 10 s apart.
    served = [serve(chooser, clock, "completion", FIM, ttft) for _ in range(200)]
    probes = served.count("tiny-coder")
    assert 1 <= probes <= 200 * 0.05
    choice = chooser.choose("completion", FIM, dry_run=True)
    assert names(choice) == ["fast-coder", "tiny-coder"]
    assert not choice.candidates[1].within_target and "avoided: tiny-coder" in choice.reasons[-1]

    ttft["tiny-coder"] = 100.0  # recovered: probes notice, and it takes its traffic back
    served = [serve(chooser, clock, "completion", FIM, ttft) for _ in range(200)]
    back = served.index("tiny-coder")
    assert set(served[back:]) != {"fast-coder"}
    # All of it but the `explore` share (1 in 20) that keeps fast-coder's acceptance measured.
    assert served[-20:].count("tiny-coder") == 19


def test_probes_are_marked_and_bounded_in_time(clock: Clock):
    policy = parse_policy({"completion": {"probe_share": 1.0, "probe_interval_s": 10}}, "p")
    ch = Chooser(MODELS, policy, clock=clock)
    ch.record_success("tiny-coder", "completion", 0.9)  # over target
    first = ch.choose("completion", FIM)
    assert first.probe and names(first)[0] == "tiny-coder" and "probe" in first.reasons[1]
    clock.t += 5
    assert not ch.choose("completion", FIM).probe  # too soon
    clock.t += 5
    assert ch.choose("completion", FIM).probe


def test_no_probe_for_a_model_the_objective_would_not_prefer(clock: Clock):
    policy = parse_policy({"completion": {"probe_share": 1.0, "probe_interval_s": 0}}, "p")
    ch = Chooser(MODELS, policy, clock=clock)
    ch.record_success("fast-coder", "completion", 0.9)  # slow, and dearer than tiny-coder
    assert not any(ch.choose("completion", FIM).probe for _ in range(5))


def test_explain_is_a_dry_run(clock: Clock):
    policy = parse_policy({"completion": {"probe_share": 1.0, "probe_interval_s": 0}}, "p")
    ch = Chooser(MODELS, policy, clock=clock)
    ch.record_success("tiny-coder", "completion", 0.9)
    assert not ch.choose("completion", FIM, dry_run=True).probe
    assert ch.choose("completion", FIM).probe  # the dry run used nothing up


def test_all_over_target_goes_least_slow_first(chooser: Chooser):
    chooser.record_success("tiny-coder", "completion", 0.8)
    chooser.record_success("fast-coder", "completion", 0.5)
    choice = chooser.choose("completion", FIM, dry_run=True)
    assert names(choice) == ["fast-coder", "tiny-coder"]
    assert "none within target" in choice.reasons[1]


def test_failing_model_is_skipped_and_comes_back_after_a_good_trial(chooser: Chooser, clock: Clock):
    for _ in range(3):
        assert names(chooser.choose("qa", QA))[0] == "fast-coder"
        chooser.record_failure("fast-coder", "http 502")
    choice = chooser.choose("qa", QA)
    assert names(choice) == ["mid-chat", "big-a"]
    assert "ejected" in {c.model.name: c.reasons[0] for c in choice.rejected}["fast-coder"]

    clock.t += 5  # cool-down over: one trial request
    trial = chooser.choose("qa", QA)
    assert names(trial)[0] == "fast-coder" and "trial" in trial.candidates[0].reasons[-1]
    assert names(chooser.choose("qa", QA))[0] == "mid-chat"  # trial in flight: one at a time
    chooser.record_failure("fast-coder", "http 502")  # trial failed: out for longer
    clock.t += 5
    assert names(chooser.choose("qa", QA))[0] == "mid-chat"
    clock.t += 5
    assert names(chooser.choose("qa", QA))[0] == "fast-coder"
    chooser.record_success("fast-coder", "qa", 0.2)
    assert names(chooser.choose("qa", QA))[0] == "fast-coder"
    assert chooser.breakers.state("fast-coder", clock.t) == "closed"


def test_everything_ejected_is_a_503_with_retry_after(chooser: Chooser, clock: Clock):
    for m in ("tiny-coder", "fast-coder"):
        for _ in range(3):
            chooser.record_failure(m, "connect")
    clock.t += 2
    choice = chooser.choose("completion", FIM)
    assert choice.candidates == () and choice.retry_after_s == pytest.approx(3)
    assert "no healthy model for lane completion" in choice.reasons[-1]
    assert "tiny-coder" in choice.reasons[-1] and "connect" in choice.reasons[-1]


def test_pin_is_respected_without_fallbacks(chooser: Chooser, clock: Clock):
    # Pinned: served even outside its lanes and regardless of latency.
    chooser.record_success("big-a", "completion", 5.0)
    assert names(chooser.choose("completion", FIM)) == ["tiny-coder", "fast-coder"]
    assert names(chooser.pinned("big-a", "completion", FIM)) == ["big-a"]
    for _ in range(3):
        chooser.record_failure("big-a", "timeout")
    choice = chooser.pinned("big-a", "completion", FIM)
    assert choice.candidates == () and choice.retry_after_s == 5
    with pytest.raises(KeyError):
        chooser.pinned("nope", "qa", QA)


def test_pin_falls_back_only_to_configured_fallbacks(chooser: Chooser):
    assert names(chooser.pinned("big-b", "agentic", AGENT)) == ["big-b", "mid-chat"]
    for _ in range(3):
        chooser.record_failure("big-b", "http 500")
    choice = chooser.pinned("big-b", "agentic", AGENT)
    assert names(choice) == ["mid-chat"] and "fallbacks: mid-chat" in choice.reasons[0]


def test_session_affinity_keeps_a_conversation_on_its_model(chooser: Chooser, clock: Clock):
    session = Needs(tools=True, input_tokens=20000, session="m:abc")
    assert names(chooser.choose("agentic", session))[0] == "big-b"
    # big-b failed once, the fallback big-a answered: the conversation now lives on big-a.
    chooser.record_failure("big-b", "http 500")
    chooser.record_success("big-a", "agentic", 2.0, session="m:abc")
    choice = chooser.choose("agentic", session)
    assert names(choice) == ["big-a", "big-b", "mid-chat"] and "affinity" in choice.reasons[1]
    # Other conversations still follow the objective.
    assert names(chooser.choose("agentic", AGENT))[0] == "big-b"
    # Unhealthy: the conversation moves on.
    for _ in range(3):
        chooser.record_failure("big-a", "timeout")
    assert names(chooser.choose("agentic", session))[0] == "big-b"


def test_affinity_only_where_the_lane_wants_it(chooser: Chooser):
    chooser.record_success("big-a", "qa", 0.5, session="s")
    assert names(chooser.choose("qa", Needs(input_tokens=10, session="s")))[0] == "fast-coder"


def test_fastest_orders_by_learned_ttft_with_tier_priors(clock: Clock):
    ch = Chooser(MODELS, load_policy("latency-first"), clock=clock)
    # No data: small before medium before large (priors 25/50/75% of the target).
    assert names(ch.choose("qa", QA, dry_run=True)) == ["fast-coder", "mid-chat", "big-a"]
    ch.record_success("big-a", "qa", 0.1)
    ch.record_success("fast-coder", "qa", 0.6)  # slower than mid-chat's 500 ms prior
    assert names(ch.choose("qa", QA, dry_run=True)) == ["big-a", "mid-chat", "fast-coder"]


def test_cost_saver_sends_agents_to_the_cheapest_tool_model(clock: Clock):
    ch = Chooser(MODELS, load_policy("cost-saver"), clock=clock)
    assert names(ch.choose("agentic", AGENT)) == ["mid-chat", "big-b", "big-a"]


def test_unstreamed_success_closes_the_breaker_without_a_latency_sample(chooser: Chooser):
    chooser.record_failure("big-a", "timeout")
    chooser.record_success("big-a", "qa", None)
    assert chooser.latency.ewma("big-a", "qa") is None
    assert chooser.breakers.describe("big-a", 0) == "healthy"


def test_expected_output_tokens_change_the_predicted_cost(chooser: Chooser):
    short = chooser.choose("qa", Needs(input_tokens=1000), dry_run=True).candidates[0]
    long = chooser.choose("qa", Needs(input_tokens=1000, output_tokens=4000), dry_run=True)
    assert long.candidates[0].predicted_cost_usd > short.predicted_cost_usd


def test_max_tokens_is_a_ceiling_lowered_where_it_does_not_fit_whole(chooser: Chooser):
    # opencode's default: 32,000 output tokens whatever the window. Of the qa models only
    # big-a (131k) holds it whole: it goes first, though the 32k ones are cheaper; they
    # still serve it, with a lower ceiling, rather than the request being refused.
    opencode = Needs(input_tokens=3000, output_tokens=32000)
    choice = chooser.choose("qa", opencode)
    assert names(choice) == ["big-a", "fast-coder", "mid-chat"]
    assert [c.fits_whole for c in choice.candidates] == [True, False, False]
    assert "lowered to 29768" in choice.candidates[1].reasons[-1]
    assert names(chooser.choose("qa", Needs(input_tokens=3000, output_tokens=2000)))[0] == (
        "fast-coder")


def test_an_input_too_long_for_every_window_is_context_length_not_an_outage(chooser: Chooser):
    choice = chooser.choose("qa", Needs(input_tokens=140_000, output_tokens=100))
    assert choice.candidates == () and choice.too_long and choice.retry_after_s is None
    only_chat = Chooser(MODELS[2:3], load_policy("default"))
    no_fim = only_chat.choose("qa", Needs(fim=True, input_tokens=10))
    assert no_fim.unfit and not no_fim.too_long and no_fim.retry_after_s is None


# -- acceptance-aware choice (completion lane: acceptance_margin 0.02, explore 0.05) ------


def learned(ch: Chooser, clock: Clock, rates: dict[str, tuple[int, int]]) -> None:
    for model, (shown, accepted) in rates.items():
        ch.acceptance.absorb("completion", model, shown, accepted, clock.t)


def test_a_clearly_better_accepted_model_replaces_the_cheapest(chooser: Chooser, clock: Clock):
    learned(chooser, clock, {"tiny-coder": (2000, 300), "fast-coder": (2000, 700)})
    choice = chooser.choose("completion", FIM, dry_run=True)
    assert names(choice) == ["fast-coder", "tiny-coder"]
    assert "acceptance 35% beats tiny-coder" in choice.reasons[1]
    assert choice.candidates[0].acceptance is not None
    assert choice.candidates[0].acceptance.mean == pytest.approx(0.35)


def test_noise_within_the_margin_keeps_the_cheapest(chooser: Chooser, clock: Clock):
    # 2 points apart: not more than the margin, so the cheaper model keeps the traffic.
    learned(chooser, clock, {"tiny-coder": (5000, 1250), "fast-coder": (5000, 1350)})
    assert names(chooser.choose("completion", FIM, dry_run=True))[0] == "tiny-coder"
    # Too little data to be 95% sure of a 20-point gap: the cheapest stays first too.
    fresh = Chooser(MODELS, load_policy("default"), clock=clock)
    learned(fresh, clock, {"tiny-coder": (10, 2), "fast-coder": (10, 4)})
    assert names(fresh.choose("completion", FIM, dry_run=True))[0] == "tiny-coder"


def test_explore_sends_one_request_in_twenty_to_the_other_candidate(clock: Clock):
    ch = Chooser(MODELS, load_policy("default"), clock=clock)
    firsts = [names(ch.choose("completion", FIM))[0] for _ in range(200)]
    assert firsts.count("fast-coder") == 10
    off = Chooser(MODELS, parse_policy({"completion": {"explore": 0}}, "p"), clock=clock)
    assert {names(off.choose("completion", FIM))[0] for _ in range(200)} == {"tiny-coder"}
    # qa does not use acceptance: no exploration, no acceptance figures
    qa = ch.choose("qa", QA)
    assert all(c.acceptance is None for c in qa.candidates)


def test_acceptance_decays_so_a_model_that_got_worse_loses_its_lead(clock: Clock):
    ch = Chooser(MODELS, load_policy("default"), clock=clock)
    learned(ch, clock, {"tiny-coder": (2000, 300), "fast-coder": (2000, 700)})
    clock.t += 4 * 3600  # four half-lives later, fast-coder is now accepted like tiny-coder
    learned(ch, clock, {"tiny-coder": (4000, 600), "fast-coder": (4000, 1000)})
    assert names(ch.choose("completion", FIM, dry_run=True))[0] == "tiny-coder"


def test_explore_skips_a_model_known_to_be_worse(clock: Clock):
    ch = Chooser(MODELS, load_policy("default"), clock=clock)
    learned(ch, clock, {"tiny-coder": (4000, 1400), "fast-coder": (4000, 600)})
    assert {names(ch.choose("completion", FIM))[0] for _ in range(200)} == {"tiny-coder"}
