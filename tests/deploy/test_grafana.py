"""The Grafana dashboard: generated from deploy/grafana/dashboard.py, complete, well laid out.
Its queries are run against a real Prometheus in tests/e2e/test_metrics_prometheus.py."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dashboard", GRAFANA / "dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed() -> dict[str, object]:
    data: dict[str, object] = json.loads((GRAFANA / "dashboards" / "laneway.json").read_text())
    return data


def test_committed_json_is_what_the_generator_builds() -> None:
    assert committed() == generator().build(), "run: python deploy/grafana/dashboard.py"


def test_panels_use_the_provisioned_datasource() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    uid = ds["datasources"][0]["uid"]
    panels = generator().build()["panels"]
    for p in panels:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == uid, p["title"]
            assert all(t["datasource"]["uid"] == uid for t in p["targets"]), p["title"]


def test_layout_has_unique_ids_and_no_overlaps() -> None:
    panels = generator().build()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{p['title']} overlaps another panel"
        cells |= mine


def test_covers_what_operators_asked_for() -> None:
    exprs = " ".join(e for _, e in generator().expressions(generator().build()))
    for needle in (
        "laneway_requests_total",  # traffic by lane, model mix
        "laneway_time_to_first_token_seconds_bucket", "laneway_ttft_target_seconds",
        'laneway_cache_events_total{result="hit"}', 'kind="trimmed"',
        "laneway_cost_usd_total", "laneway_cost_saved_usd_total",
        "laneway_upstream_errors_total", "laneway_model_up", "laneway_inflight_requests",
    ):
        assert needle in exprs, needle
    titles = [t for t, _ in generator().expressions(generator().build())]
    assert "Model mix per lane" in titles and "Cache hit ratio by tier" in titles


def test_a_row_per_team_with_its_spend_and_budget() -> None:
    board = generator().build()
    [row] = [p for p in board["panels"] if p["type"] == "row" and p.get("repeat") == "team"]
    [variable] = board["templating"]["list"]
    assert variable["name"] == "team" and "laneway_spend_usd_total" in variable["definition"]
    exprs = " ".join(e for t, e in generator().expressions(board) if "$team" in t)
    for needle in ("laneway_spend_usd_total", "laneway_budget_remaining_usd", "laneway_budget_usd"):
        assert needle in exprs
    assert row["title"] == "Team $team"
