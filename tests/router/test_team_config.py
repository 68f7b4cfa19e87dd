"""Teams in the config: one tenant per team, settings shared by its keys, periods in UTC."""

from datetime import UTC, datetime

import pytest

from router.config import ConfigError, parse, tenant_id
from router.http.auth import KeyRing
from router.limits.budget import period_bounds
from router.limits.ratelimit import build_limiter

MODELS = [{"name": "small", "api_base": "http://up/v1"}, {"name": "big", "api_base": "http://up/v1"}]


def config(*keys, **server):
    return parse({"server": {"api_keys": list(keys), **server}, "models": MODELS})


def test_keys_of_a_team_share_one_tenant_named_by_the_team():
    cfg = config({"key": "sk-1", "team": "web", "rpm": 60}, {"key": "sk-2", "team": "web"},
                 "sk-bare", tenant_secret="s3cret")
    ring = KeyRing(cfg)
    assert ring.tenant("Bearer sk-1") == ring.tenant("Bearer sk-2") == "web"
    bare = ring.tenant("Bearer sk-bare")
    assert bare == tenant_id("sk-bare", b"s3cret") != tenant_id("sk-bare")
    limiter = build_limiter(cfg)
    assert limiter.limit_for("web").requests_per_minute == 60  # the team's, for both keys


def test_a_bare_tenant_id_depends_on_the_deployment_secret(monkeypatch):
    monkeypatch.setenv("LW_TENANT_SECRET", "one")
    a = config("sk-bare", tenant_secret="env:LW_TENANT_SECRET").tenants[0].id
    monkeypatch.setenv("LW_TENANT_SECRET", "two")
    b = config("sk-bare", tenant_secret="env:LW_TENANT_SECRET").tenants[0].id
    assert a != b and a.startswith("t-") and len(a) == 14
    without = config("sk-bare")
    assert any("tenant_secret" in w for w in without.warnings)


def test_a_setting_given_twice_differently_is_an_error_naming_both_entries():
    with pytest.raises(ConfigError, match=r"api_keys\[1\]\.budget.*api_keys\[0\]"):
        config({"key": "a", "team": "web", "budget": {"usd": 5, "period": "day"}},
               {"key": "b", "team": "web", "budget": {"usd": 9, "period": "day"}})
    cfg = config({"key": "a", "team": "web", "models": ["small"]},
                 {"key": "b", "team": "web", "models": ["small"]})
    assert cfg.teams["web"].models == {"small"}


@pytest.mark.parametrize("name", ["anonymous", "t-0123456789ab", "a b", "x{y}", ""])
def test_team_names_that_would_be_ambiguous_or_unsafe_are_refused(name):
    with pytest.raises(ConfigError, match="team"):
        config({"key": "a", "team": name})


def test_bad_budgets_and_unknown_fields_are_refused():
    with pytest.raises(ConfigError, match=r"budget\.usd"):
        config({"key": "a", "team": "web", "budget": {"usd": 0}})
    with pytest.raises(ConfigError, match="period"):
        config({"key": "a", "team": "web", "budget": {"usd": 1, "period": "year"}})
    with pytest.raises(ConfigError, match=r"api_keys\[0\]\.rmp: Extra inputs"):
        config({"key": "a", "team": "web", "rmp": 5})
    with pytest.raises(ConfigError, match=r"api_keys\[0\]: .*set `team`"):
        config({"key": "a", "rpm": 5})


def test_limits_keys_may_name_a_team_key_by_its_entry():
    cfg = config({"key": "sk-1", "team": "web"},
                 limits={"keys": {"sk-1": {"requests_per_minute": 7}}})
    assert build_limiter(cfg).limit_for("web").requests_per_minute == 7


def _at(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_periods_are_calendar_periods_in_utc():
    now = _at(2026, 12, 31, 23, 59, 30)  # a Thursday
    assert period_bounds("day", now) == ("d2026-12-31", _at(2027, 1, 1))
    assert period_bounds("week", now) == ("w2026-W53", _at(2027, 1, 4))  # the next Monday
    assert period_bounds("month", now) == ("m2026-12", _at(2027, 1, 1))
    assert period_bounds("month", _at(2026, 2, 10)) == ("m2026-02", _at(2026, 3, 1))


def test_keys_new_prints_a_fresh_key_and_lines_that_add_it(capsys):
    import yaml

    from router.cli import main

    assert main(["keys", "new", "--team", "web"]) == 0
    first = capsys.readouterr().out
    assert main(["keys", "new", "--team", "web"]) == 0
    key = first.split()[0]
    assert key != capsys.readouterr().out.split()[0] and len(key) > 40
    lines = first[first.index("  - key:"):]
    cfg = parse({"server": yaml.safe_load("api_keys:\n" + lines), "models": MODELS})
    assert KeyRing(cfg).tenant(f"Bearer {key}") == "web"
    assert main(["keys", "new", "--team", "no spaces"]) == 2
