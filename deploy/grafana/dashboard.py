"""Builds deploy/grafana/dashboards/laneway.json: `python deploy/grafana/dashboard.py`.

The dashboard is written as code so that panels stay uniform and every PromQL expression
lives in one list that tests can evaluate against a real Prometheus
(tests/e2e/test_metrics_prometheus.py). Edit here, regenerate, commit both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "dashboards" / "laneway.json"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources uses it
R = "[$__rate_interval]"
LANE_TARGETS = {"completion": "0.3", "qa": "2.0", "agentic": "8.0"}  # bucket bounds (le)


def _rate(metric: str, by: str, sel: str = "") -> str:
    return f"sum by ({by}) (rate({metric}{{{sel}}}{R}))"


def _quantile(q: float, metric: str, by: str = "lane") -> str:
    return f"histogram_quantile({q}, sum by ({by}, le) (rate({metric}_bucket{R})))"


TEAM_VARIABLE = {
    "name": "team", "label": "Team", "type": "query", "datasource": DATASOURCE,
    "query": {"query": "label_values(laneway_spend_usd_total, team)", "refId": "teams"},
    "definition": "label_values(laneway_spend_usd_total, team)",
    "refresh": 2, "multi": True, "includeAll": True, "current": {}, "sort": 1,
}

# (title, panel type, unit, [(expr, legend)], width, description)
Panel = tuple[str, str, str, list[tuple[str, str]], int, str]

ROWS: list[tuple[str, list[Panel]]] = [
    ("Traffic", [
        ("Requests by lane", "timeseries", "reqps",
         [(_rate("laneway_requests_total", "lane"), "{{lane}}")], 8,
         "Answers per second, by the lane each request was classified into."),
        ("Model mix per lane", "timeseries", "percentunit",
         [(_rate("laneway_requests_total", "lane, model") + " / ignoring(model) group_left "
           + _rate("laneway_requests_total", "lane"), "{{lane}} / {{model}}")], 8,
         "Share of each lane's requests answered by each model."),
        ("In-flight requests", "timeseries", "short",
         [("sum by (lane) (laneway_inflight_requests)", "{{lane}}")], 8,
         "Requests between arrival and last byte, all replicas."),
        ("Answers by status", "timeseries", "reqps",
         [(_rate("laneway_requests_total", "lane, status"), "{{lane}} {{status}}")], 12,
         "499: the client went away (often a superseded completion)."),
        ("Answers by cache outcome", "timeseries", "reqps",
         [(_rate("laneway_requests_total", "cache"), "{{cache}}")], 12,
         "miss: answered upstream; l1/l2/typeahead/coalesced: no upstream call of its own."),
    ]),
    ("Latency", [
        ("Time to first token p50 / p95 against target", "timeseries", "s",
         [(_quantile(0.5, "laneway_time_to_first_token_seconds"), "p50 {{lane}}"),
          (_quantile(0.95, "laneway_time_to_first_token_seconds"), "p95 {{lane}}"),
          ("max by (lane) (laneway_ttft_target_seconds)", "target {{lane}}")], 12,
         "Each lane's percentiles with its policy target (dashed)."),
        ("Share of requests over their lane's target", "timeseries", "percentunit",
         [(f"1 - sum(rate(laneway_time_to_first_token_seconds_bucket"
           f'{{lane="{lane}",le="{le}"}}{R})) / sum(rate('
           f'laneway_time_to_first_token_seconds_count{{lane="{lane}"}}{R}))', lane)
          for lane, le in LANE_TARGETS.items()], 12,
         "Exact, not interpolated: each default target is a histogram bucket bound."),
        ("Request duration p95", "timeseries", "s",
         [(_quantile(0.95, "laneway_request_duration_seconds"), "{{lane}}")], 12,
         "Arrival to last byte."),
        ("laneway overhead p50 / p99", "timeseries", "s",
         [(_quantile(0.5, "laneway_overhead_seconds"), "p50 {{lane}}"),
          (_quantile(0.99, "laneway_overhead_seconds"), "p99 {{lane}}")], 12,
         "laneway's own time on a request, upstream time excluded."),
    ]),
    ("Cache", [
        ("Cache hit ratio by tier", "timeseries", "percentunit",
         [(_rate("laneway_cache_events_total", "tier", 'result="hit"') + " / "
           + _rate("laneway_cache_events_total", "tier", 'result=~"hit|miss"'), "{{tier}}")],
         12, "Hits over lookups, per tier (l1, l2, typeahead)."),
        ("Cache events", "timeseries", "ops",
         [(_rate("laneway_cache_events_total", "tier, result"), "{{tier}} {{result}}")], 8,
         "Lookups, stores, coalesced flights, Redis errors and dropped writes."),
        ("Redis up", "stat", "short",
         [("min(laneway_redis_up)", "redis")], 4,
         "1: every replica reaches Redis. No data: no Redis configured."),
    ]),
    ("Tokens and cost", [
        ("Tokens trimmed by lane", "timeseries", "short",
         [(_rate("laneway_tokens_total", "lane", 'kind="trimmed"'), "{{lane}}")], 8,
         "Tokens per second cut by the lanes' input budgets."),
        ("Tokens by kind", "timeseries", "short",
         [(_rate("laneway_tokens_total", "kind"), "{{kind}}")], 8,
         "Input and output billed by models, trimmed cut by laneway."),
        ("Savings ratio", "stat", "percentunit",
         [("sum(increase(laneway_cost_saved_usd_total[$__range])) / (sum(increase("
           "laneway_cost_saved_usd_total[$__range])) + sum(increase("
           "laneway_cost_usd_total[$__range])))", "saved")], 8,
         "Saved over what everything sent untrimmed to the largest model would have cost."),
        ("Spend per hour by lane", "timeseries", "currencyUSD",
         [(_rate("laneway_cost_usd_total", "lane") + " * 3600", "{{lane}}")], 8,
         "At list prices."),
        ("Savings per hour by lane", "timeseries", "currencyUSD",
         [(_rate("laneway_cost_saved_usd_total", "lane") + " * 3600", "{{lane}}")], 8,
         "Against the largest model; cache hits save its whole cost."),
        ("Spend by model", "piechart", "currencyUSD",
         [("sum by (model) (increase(laneway_cost_usd_total[$__range]))", "{{model}}")], 8,
         "Over the dashboard's time range."),
    ]),
    # Repeated once per team (the `team` variable: every team that has spent).
    ("Team $team", [
        ("Spend per hour ($team)", "timeseries", "currencyUSD",
         [(_rate("laneway_spend_usd_total", "team", 'team=~"$team"') + " * 3600", "{{team}}")],
         12, "At list prices, all replicas; cache hits cost nothing."),
        ("Budget used ($team)", "stat", "percentunit",
         [('1 - min by (team) (laneway_budget_remaining_usd{team=~"$team"}) / max by (team) '
           '(laneway_budget_usd{team=~"$team"})', "{{team}}")], 6,
         "Share of this period's budget spent (UTC day, week or month); alert at 80%."),
        ("Budget remaining ($team)", "stat", "currencyUSD",
         [('min by (team) (laneway_budget_remaining_usd{team=~"$team"})', "{{team}}")], 6,
         "At 0 the team's requests get 429 insufficient_quota until the period ends."),
    ]),
    ("Acceptance and experiments", [
        ("Completion acceptance by model", "timeseries", "percentunit",
         [(_rate("laneway_completions_accepted_total", "model", 'lane="completion"') + " / "
           + _rate("laneway_completions_shown_total", "model", 'lane="completion"'),
           "{{model}}")], 8,
         "Accepted (select events and implicit) over shown, per model."),
        ("Acceptance by experiment arm", "timeseries", "percentunit",
         [(_rate("laneway_completions_accepted_total", "lane, arm", 'arm!="none"') + " / "
           + _rate("laneway_completions_shown_total", "lane, arm", 'arm!="none"'),
           "{{lane}} / {{arm}}")], 8,
         "Each arm's acceptance; GET /laneway/experiments has the always-valid intervals."),
        ("Cost per accepted completion", "timeseries", "currencyUSD",
         [("sum by (model) (rate(laneway_cost_usd_total{lane=\"completion\"}" + R + "))"
           " / " + _rate("laneway_completions_accepted_total", "model", 'lane="completion"'),
           "{{model}}")], 8,
         "What one accepted completion costs, per model (spend over acceptances)."),
        ("Accepted by source", "timeseries", "ops",
         [(_rate("laneway_completions_accepted_total", "lane, source"), "{{lane}} {{source}}")],
         8, "event: the editor sent select; implicit: the next prefix carried the answer."),
        ("Dismissed", "timeseries", "ops",
         [(_rate("laneway_completions_dismissed_total", "lane, model"), "{{lane}} {{model}}")],
         8, "dismiss events per second."),
        ("Experiment state", "stat", "short",
         [("max by (experiment) (laneway_experiment_decided)", "{{experiment}} decided"),
          ("max by (experiment, arm) (laneway_experiment_winner)", "{{experiment}}: {{arm}}")],
         8, "1: decided (and the winning arm); 0: still running."),
    ]),
    ("Upstream", [
        ("Upstream errors by model and reason", "timeseries", "ops",
         [(_rate("laneway_upstream_errors_total", "model, reason"), "{{model}} {{reason}}")],
         12, "Failed attempts, fallbacks included."),
        ("Replicas that ejected each model", "timeseries", "short",
         [("sum by (model) (laneway_model_up == bool 0)", "{{model}}")], 6,
         "0: every replica sends the model traffic; >0: its breaker is open there."),
        ("Healthy models per lane", "timeseries", "short",
         [("min by (lane) (sum by (instance, lane) (laneway_model_up * on (instance, job, model)"
           " group_right laneway_model_info))", "{{lane}}")], 6,
         "Fewest healthy models any replica has for the lane; 0 means 503s."),
    ]),
]


def _panel(pid: int, x: int, y: int, p: Panel) -> dict[str, Any]:
    title, kind, unit, targets, width, description = p
    panel: dict[str, Any] = {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": width, "h": 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr,
             "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }
    if any(legend.startswith("target") for _, legend in targets):
        panel["fieldConfig"]["overrides"] = [{
            "matcher": {"id": "byRegexp", "options": "target.*"},
            "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}],
        }]
    return panel


def build() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    pid = 1
    for row_title, row in ROWS:
        panels.append({"id": pid, "type": "row", "title": row_title, "collapsed": False,
                       "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []})
        if "$team" in row_title:
            panels[-1]["repeat"] = "team"
        pid, y, x = pid + 1, y + 1, 0
        for p in row:
            if x + p[4] > 24:
                x, y = 0, y + 8
            panels.append(_panel(pid, x, y, p))
            pid, x = pid + 1, x + p[4]
        y += 8
    return {
        "uid": "laneway",
        "title": "laneway",
        "tags": ["laneway"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {"list": [TEAM_VARIABLE]},
        "annotations": {"list": []},
        "panels": panels,
    }


def expressions(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expr) for every query of the dashboard."""
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", ())]


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=2) + "\n")
    print(f"wrote {OUT}")
