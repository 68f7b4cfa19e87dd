"""Per-user adaptation: each user's own acceptance moves their scope and output cap, from
the lane's defaults, without touching other users or other tenants."""

from __future__ import annotations

from policies.adapt import DEFAULT, UserTuning


def feed(t: UserTuning, tenant: str, unit: str, scope: str, shown: int, accepted: int,
         tokens: int = 0) -> None:
    for i in range(shown):
        t.shown(tenant, unit, scope)
        if i < accepted:
            t.accepted(tenant, unit, scope, tokens)


def test_a_new_user_gets_the_lane_defaults() -> None:
    assert UserTuning().tuning("team-a", "alice", 256) == DEFAULT


def test_a_user_who_rejects_blocks_gets_lines_and_no_one_else_does() -> None:
    t = UserTuning()
    feed(t, "team-a", "alice", "line", 200, 80)
    feed(t, "team-a", "alice", "block", 200, 10)
    tuned = t.tuning("team-a", "alice", 256)
    assert tuned.scope == "line" and tuned.reason and "takes lines" in tuned.reason
    assert t.tuning("team-a", "bob", 256) == DEFAULT
    assert t.tuning("team-b", "alice", 256) == DEFAULT  # same name, another tenant


def test_a_little_evidence_or_a_small_gap_keeps_the_default() -> None:
    t = UserTuning()
    feed(t, "team-a", "carol", "line", 10, 5)
    feed(t, "team-a", "carol", "block", 10, 2)
    assert t.tuning("team-a", "carol", 256).scope is None
    feed(t, "team-a", "dave", "line", 400, 120)
    feed(t, "team-a", "dave", "block", 400, 112)
    assert t.tuning("team-a", "dave", 256).scope is None


def test_the_output_cap_follows_what_the_user_accepts() -> None:
    t = UserTuning()
    feed(t, "team-a", "erin", "line", 9, 9, tokens=12)
    assert t.tuning("team-a", "erin", 256).max_output_tokens is None  # not enough yet
    feed(t, "team-a", "erin", "line", 1, 1, tokens=20)
    assert t.tuning("team-a", "erin", 256).max_output_tokens == 40
    feed(t, "team-a", "frank", "block", 20, 20, tokens=200)
    assert t.tuning("team-a", "frank", 256).max_output_tokens is None  # never above the lane's


def test_profiles_are_bounded_least_recently_used_first() -> None:
    t = UserTuning(capacity=2)
    feed(t, "team-a", "old", "line", 200, 80)
    feed(t, "team-a", "old", "block", 200, 10)
    feed(t, "team-a", "u2", "line", 1, 0)
    feed(t, "team-a", "u3", "line", 1, 0)
    assert len(t) == 2 and t.tuning("team-a", "old", 256) == DEFAULT
