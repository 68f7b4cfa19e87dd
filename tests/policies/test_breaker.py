from policies.breaker import BreakerBoard
from policies.policy import BreakerPolicy


def board(**kw: float) -> BreakerBoard:
    return BreakerBoard(BreakerPolicy(**kw))  # type: ignore[arg-type]


def test_unknown_model_is_closed():
    b = board()
    assert b.state("m", 0) == "closed" and b.allow("m", 0) and b.retry_in("m", 0) == 0
    assert b.describe("m", 0) == "healthy"


def test_ejects_after_consecutive_failures_only():
    b = board(failures=3, cooldown_s=5)
    b.failure("m", 0, "timeout")
    b.failure("m", 0, "timeout")
    b.success("m")  # resets the count
    b.failure("m", 1, "timeout")
    b.failure("m", 1, "timeout")
    assert b.state("m", 1) == "closed"
    b.failure("m", 1, "http 502")
    assert b.state("m", 1) == "open" and not b.allow("m", 1)
    assert b.retry_in("m", 2) == 4
    assert "ejected" in b.describe("m", 2) and "http 502" in b.describe("m", 2)


def test_half_open_gives_exactly_one_trial():
    b = board(failures=1, cooldown_s=5, trial_timeout_s=30)
    b.failure("m", 0)
    assert b.state("m", 5) == "half_open"
    assert b.available("m", 5)
    assert b.allow("m", 5)  # the trial
    assert not b.allow("m", 6) and not b.available("m", 6)
    assert "in flight" in b.describe("m", 6)
    assert b.retry_in("m", 6) == 29
    assert b.allow("m", 35)  # the trial never reported back: another may try


def test_cooldown_grows_while_failing_and_success_closes():
    b = board(failures=2, cooldown_s=5, max_cooldown_s=30)
    b.failure("m", 0)
    b.failure("m", 0)
    ends = []
    now = 0.0
    for _ in range(5):
        now += b.retry_in("m", now)
        assert b.allow("m", now)  # half-open trial ...
        b.failure("m", now)  # ... fails: out again, longer
        ends.append(b.retry_in("m", now))
    assert ends == [10, 20, 30, 30, 30]
    now += 30
    assert b.allow("m", now)
    b.success("m")
    assert b.state("m", now) == "closed"
    # Back to the base cool-down after recovering.
    b.failure("m", now)
    b.failure("m", now)
    assert b.retry_in("m", now) == 5


def test_stragglers_do_not_extend_an_ejection():
    b = board(failures=1, cooldown_s=5)
    b.failure("m", 0)
    b.failure("m", 3)
    assert b.retry_in("m", 3) == 2


def test_probes_go_to_models_ejected_a_while_ago_until_one_succeeds():
    b = board(failures=1, cooldown_s=5)
    b.failure("m", 10)
    b.failure("n", 0.5)
    assert b.to_probe(10.5, settle_s=1) == ["n"]  # m failed only just now
    assert sorted(b.to_probe(11, settle_s=1)) == ["m", "n"]
    b.success("m")  # a probe answered
    assert b.to_probe(100, settle_s=1) == ["n"] and b.state("m", 11) == "closed"
