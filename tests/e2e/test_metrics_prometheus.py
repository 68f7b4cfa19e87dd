"""A real Prometheus scrapes a laneway that served all three lanes; every dashboard query
and every alert rule then runs through Prometheus's HTTP API."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from metrics_kit import (
    KIT_AUTH,
    KIT_TEAM,
    broken_request,
    config,
    lane_requests,
    redis_server,
    send_all,
)
from procs import ROOT, Proc, free_port, start_laneway, wait_until

# Panels fed by the response cache, which is not wired into every laneway build yet; the
# experiment's winner, which needs far more traffic than these waves to be decided.
MAY_BE_EMPTY = {"Cache hit ratio by tier", "Cache events", "Redis up", "Experiment state"}
EXPERIMENT = {"name": "completion-model", "lane": "completion",
              "arms": [{"name": "small", "model": "qwen3-coder-1.5b"},
                       {"name": "mid", "model": "qwen3-14b"}]}


def feedback_wave(url: str, i: int) -> None:
    """Two completions, one selected and one dismissed (Tabby's events)."""
    for kind in ("select", "dismiss"):
        _, body = lane_requests(100 + i)[0]
        body = body | {"stream": False, "user": f"user-{kind}-{i}",
                       "prompt": body["prompt"].replace("area", f"area_{kind}")}
        cid = httpx.post(url + "/v1/completions", json=body, headers=KIT_AUTH,
                         timeout=30).json()["id"]
        event = {"type": kind, "completion_id": cid, "choice_index": 0}
        assert httpx.post(url + "/v1/events", json=event, headers=KIT_AUTH,
                          timeout=5).status_code == 200


def dashboard_queries() -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location(
        "dashboard", ROOT / "deploy" / "grafana" / "dashboard.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    queries: list[tuple[str, str]] = module.expressions(module.build())
    # Grafana's own variables: a rate window of several scrapes, the dashboard's range.
    # The team row's variable: the kit's one team.
    return [(t, e.replace("$__rate_interval", "30s").replace("$__range", "5m")
             .replace("$team", KIT_TEAM)) for t, e in queries]


@pytest.fixture(scope="module")
def observed(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("observed")
    with redis_server(tmp) as redis_url:
        proc = start_laneway(tmp, config(fleet.url, redis_url) | {"experiments": [EXPERIMENT]})
        yield proc
        proc.stop()


@pytest.fixture(scope="module")
def prometheus(observed: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """Prometheus scraping `observed` every second while it serves two waves of traffic:
    rate() needs a series to grow between two scrapes, so one wave would show only zeros."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: `make prometheus` installs it (Debian package)")
    tmp = tmp_path_factory.mktemp("prometheus")
    target = observed.url.removeprefix("http://")
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ROOT / "deploy" / "prometheus" / "alerts.yml")],
        "scrape_configs": [{"job_name": "laneway", "static_configs": [{"targets": [target]}]}],
    }))
    port = free_port()
    prom = Proc(
        [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}", "/-/ready", log=tmp / "prometheus.log",
    )
    try:
        # The same completion in both waves: from the second time on, a cache hit.
        again = lane_requests(0)[0]
        wave = [*lane_requests(0), broken_request(0)]
        assert send_all(observed.url, wave).count(200) == 3
        assert send_all(observed.url, [again]) == [200]
        feedback_wave(observed.url, 0)
        seen = "count(laneway_requests_total)"
        wait_until(lambda: has_data(prom, seen), timeout=10, what="a scrape of the first wave")
        # The second wave: more of each lane, a prompt long enough to be trimmed (the
        # completion lane's budget is 4,096 tokens), and failures.
        long_fim = lane_requests(9)[0]
        long_fim[1]["prompt"] = "# note\n" * 6000 + long_fim[1]["prompt"]
        wave = [r for i in range(1, 4) for r in lane_requests(i)]
        wave += [long_fim, again, broken_request(1), broken_request(2)]
        assert send_all(observed.url, wave).count(200) == 11
        feedback_wave(observed.url, 1)
        grown = "sum(rate(laneway_requests_total[30s])) > 0"
        wait_until(lambda: has_data(prom, grown), timeout=10, what="a scrape of the second wave")
        # Trimmed tokens first appear in the second wave: rate() needs two scrapes of them.
        trimmed = 'rate(laneway_tokens_total{kind="trimmed"}[30s])'
        wait_until(lambda: has_data(prom, trimmed), timeout=10, what="two scrapes of trimming")
        taken = "rate(laneway_completions_accepted_total[30s]) > 0"
        wait_until(lambda: has_data(prom, taken), timeout=10, what="two scrapes of feedback")
        yield prom
    finally:
        prom.stop()


def has_data(prom: Proc, expr: str) -> bool:
    return bool(query(prom, expr)["data"]["result"])


def query(prom: Proc, expr: str) -> dict[str, Any]:
    r = httpx.get(prom.url + "/api/v1/query", params={"query": expr}, timeout=5)
    body: dict[str, Any] = r.json()
    return body


def test_every_dashboard_query_is_valid_and_nearly_all_have_data(prometheus: Proc) -> None:
    empty, invalid = [], []
    for title, expr in dashboard_queries():
        answer = query(prometheus, expr)
        if answer["status"] != "success":
            invalid.append((title, expr, answer.get("error")))
        elif not answer["data"]["result"]:
            empty.append(title)
    assert not invalid, invalid
    assert set(empty) <= MAY_BE_EMPTY, f"no data for: {sorted(set(empty) - MAY_BE_EMPTY)}"
    assert len(empty) <= len(dashboard_queries()) // 8, empty


def test_lane_series_reach_prometheus(prometheus: Proc) -> None:
    lanes = query(prometheus, "sum by (lane) (laneway_requests_total)")["data"]["result"]
    assert {r["metric"]["lane"] for r in lanes} == {"completion", "qa", "agentic"}
    targets = query(prometheus, "laneway_ttft_target_seconds")["data"]["result"]
    assert {r["metric"]["lane"]: float(r["value"][1]) for r in targets} == {
        "completion": 0.3, "qa": 2.0, "agentic": 8.0,
    }


def test_alert_rules_evaluate_cleanly_on_real_series(prometheus: Proc) -> None:
    def evaluated() -> list[dict[str, Any]]:
        groups = httpx.get(prometheus.url + "/api/v1/rules", timeout=5).json()["data"]["groups"]
        rules: list[dict[str, Any]] = [r for g in groups for r in g["rules"]]
        return rules

    wait_until(lambda: all(r["health"] != "unknown" for r in evaluated()), timeout=10,
               what="every rule to be evaluated")
    rules = evaluated()
    assert len(rules) == 7
    assert [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"] \
        == []
    for r in rules:  # the same expressions, one by one: valid PromQL against real labels
        assert query(prometheus, r["query"])["status"] == "success", r["name"]
