"""The alert rules and scrape config, checked by Prometheus's own tool (promtool)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROM = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS = ["LanewayCompletionSlow", "LanewayUpstreamErrors", "LanewayRedisDown",
          "LanewayNoHealthyModel", "LanewayCostSpike", "LanewayTeamBudget80",
          "LanewayAcceptanceDrop"]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: `make prometheus` installs it (Debian: prometheus)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=False)


def test_rules_are_valid() -> None:
    out = promtool("check", "rules", str(PROM / "alerts.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in out.stdout


def test_rule_unit_tests_pass() -> None:
    out = promtool("test", "rules", str(PROM / "tests" / "alerts_test.yml"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_every_alert_has_unit_tests_both_ways() -> None:
    tests = yaml.safe_load((PROM / "tests" / "alerts_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for t in tests:
        for case in t.get("alert_rule_test", ()):
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])
    assert firing == set(ALERTS)
    assert quiet == set(ALERTS)


def test_alerts_carry_severity_and_text() -> None:
    groups = yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert [r["alert"] for r in rules] == ALERTS
    for r in rules:
        assert r["labels"]["severity"] in {"warning", "critical"}, r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]
        assert "for" in r, f"{r['alert']} would fire on a single bad evaluation"


def test_scrape_config_is_valid_and_loads_the_rules() -> None:
    out = promtool("check", "config", str(PROM / "prometheus.yml"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "alerts.yml" in out.stdout
