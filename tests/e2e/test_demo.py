"""Issue 7: the demo's replay, checked against what laneway metered; the demo command itself.

The report's client-side numbers (requests, models, cache tiers, trimmed tokens from the
headers) must equal laneway's own counters over the run, and its cost numbers must be the
exported cost counters, which in turn must be what the upstream's usage costs at list price.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from procs import ROOT, Proc, fleet_models

from demo import mix
from demo.html import to_html
from demo.report import HIT_TIERS, LANES, Report, usd
from demo.run import measure
from demo.scrape import Samples, scrape
from demo.script import Answer, Request, script


@pytest.fixture(scope="module")
def replayed(laneway: Proc) -> tuple[Report, Samples]:
    """A short mix through the shared laneway, with laneway's counters before and after."""
    before = scrape(laneway.url)
    report = asyncio.run(measure(laneway.url, mix.build(20, seed=11), concurrency=8))
    return report, scrape(laneway.url) - before


def nonzero(d: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in d.items() if v}


def test_every_lane_is_exercised_without_errors(replayed: tuple[Report, Samples]):
    report, _ = replayed
    for lane in LANES:
        assert report.row(lane).requests > 0, lane
    assert report.total.errors == 0, [o.error for o in report.observations if o.error]
    misrouted = [(o.kind, o.lane) for o in report.observations if o.lane != o.expected]
    assert not misrouted


def test_requests_models_and_cache_tiers_match_laneway_requests_total(
    replayed: tuple[Report, Samples],
):
    report, metered = replayed
    for lane in LANES:
        row = report.row(lane)
        assert row.requests == metered.by("laneway_requests_total", "lane")[lane]
        assert row.metered_requests == row.requests
        assert dict(row.models) == nonzero(
            metered.by("laneway_requests_total", "model", lane=lane))
        assert dict(row.cache) == nonzero(
            metered.by("laneway_requests_total", "cache", lane=lane))


def test_tokens_and_cost_are_the_exported_counters(replayed: tuple[Report, Samples]):
    report, metered = replayed
    cost = metered.by("laneway_cost_usd_total", "lane")
    saved = metered.by("laneway_cost_saved_usd_total", "lane")
    for lane in LANES:
        row = report.row(lane)
        assert row.cost == pytest.approx(cost.get(lane, 0.0))
        assert row.saved == pytest.approx(saved.get(lane, 0.0))
        for kind, value in (("input", row.tokens_in), ("output", row.tokens_out),
                            ("trimmed", row.tokens_trimmed)):
            assert value == metered.total("laneway_tokens_total", lane=lane, kind=kind)
        # The header each client saw adds up to the exported counter.
        assert row.trimmed_header == row.tokens_trimmed
    assert report.total.cost == pytest.approx(sum(cost.values()))
    assert report.total.baseline >= report.total.cost


def test_cost_is_the_upstream_usage_at_list_price(
    replayed: tuple[Report, Samples], fleet: Proc
):
    """Independent of laneway's arithmetic: usage from each stream times the config's prices.
    Cache hits bill nothing; superseded streams never saw their usage, so their lane's total
    may only be higher than what the client can account for."""
    report, _ = replayed
    prices = {m["name"]: m["price_per_mtok"] for m in fleet_models(fleet.url)}
    for lane in LANES:
        billed = [o for o in report.observations if o.lane == lane and o.cache not in HIT_TIERS]
        known = sum(
            (o.prompt_tokens * prices[o.model]["input"]
             + o.completion_tokens * prices[o.model]["output"]) / 1e6
            for o in billed if o.prompt_tokens is not None and o.completion_tokens is not None
        )
        if all(o.prompt_tokens is not None for o in billed):
            assert report.row(lane).cost == pytest.approx(known, rel=1e-9), lane
        else:
            assert report.row(lane).cost >= known * (1 - 1e-9), lane


def test_html_report_headline_targets_superseded_and_every_configured_model(
    replayed: tuple[Report, Samples],
):
    report, _ = replayed
    page = to_html(report)
    assert '<meta name="viewport" content="width=device-width' in page
    total = report.total
    assert f"<b>{100 * total.saving:.0f}%</b><span>saved" in page  # the headline figures
    assert f"<b>{usd(total.cost)}</b>" in page and usd(total.baseline) in page
    assert f"{total.aborted:,} superseded" in page
    for target in ("target 300 ms", "target 2,000 ms", "target 8,000 ms"):  # default policy
        assert target in page
    configured = {m["name"] for m in report.models}
    assert configured == {"qwen3-coder-1.5b", "qwen3-14b", "qwen3-235b-a22b"}
    for name in configured:
        served = total.models[name]
        assert re.search(rf"<td>{re.escape(name)}</td>.*?<td>{served:,}"
                         + ("" if served else r" \(unused\)") + "</td></tr>", page), name
    # Charts scale with the page (a viewBox, no fixed width), so a phone shows them whole.
    svgs = re.findall(r"<svg[^>]*>", page)
    assert len(svgs) >= 6 and all("viewBox" in t and " width=" not in t for t in svgs)


def test_the_mix_is_production_like_and_fixed_by_its_seed():
    plan = mix.build(300, seed=7)
    assert plan == mix.build(300, seed=7)
    assert plan != mix.build(300, seed=8)
    assert plan.by_lane() == {"completion": 210, "qa": 60, "agentic": 30}
    # What the scripts send is what the plan counts (the progress bar's total), each
    # request meant for its session's lane.
    sent = [(s.lane, drive(s)) for s in plan.sessions]
    for lane, requests in sent:
        assert all(r.expected == lane and r.kind.startswith(lane + ":") for r in requests)
    assert Counter(lane for lane, rs in sent for _ in rs) == plan.by_lane()
    kinds = {r.kind for _, rs in sent for r in rs}
    assert {"completion:qwen", "completion:starcoder", "completion:deepseek",
            "completion:tabby", "completion:qwen:typeahead", "qa:chat", "agentic:tools",
            "agentic:cline-xml"} <= kinds


def drive(s: mix.Session) -> list[Request]:
    """Every request a session sends, answered with a line of code each time."""
    steps = script(s)
    out = [next(steps)]
    while True:
        try:
            out.append(steps.send(Answer("x = 1")))
        except StopIteration:
            return out


def test_laneway_demo_command(tmp_path: Path):
    """`laneway demo` as a newcomer runs it: starts everything, prints the report, exits 0,
    writes a self-contained HTML report by default (and says where), and the README's
    Markdown table on request."""
    md = tmp_path / "cost.md"
    done = subprocess.run(
        [sys.executable, "-m", "router.cli", "demo", "--requests", "12", "--seed", "3",
         "--markdown", str(md)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for text in ("Traffic", "Tokens and cost", "completion", "qa", "agentic", "saved",
                 "Flywheel: experiment completion-scope", "$ per 1k accepted"):
        assert text in done.stdout
    html = tmp_path / "laneway-demo.html"
    assert str(html) in done.stdout.replace("\n", "")
    page = html.read_text()
    assert page.count("<svg") >= 4 and "<script" not in page
    # Self-contained: nothing fetched (the SVG namespace is an identifier, not a fetch).
    assert not re.search(r"""(src|href)\s*=|@import|url\(""", page)
    table, _, caption = md.read_text().partition("\n\n")
    rows = table.splitlines()
    assert rows[0].startswith("| lane |") and len(rows) == 2 + len(LANES) + 1
    assert "laneway demo --markdown" in caption and "saved" in caption  # how to regenerate


def test_the_flywheel_phase_decides_and_cuts_cost_per_accepted_completion(
    fleet: Proc, tmp_path: Path
):
    """Simulated users take line answers about twice as often as blocks: the experiment
    decides for `line` on its own, and an accepted completion then costs less."""
    from demo import flywheel
    from demo.stack import laneway_on

    with laneway_on(fleet.url, tmp_path, {"experiments": [flywheel.EXPERIMENT]}) as lw:
        result = asyncio.run(flywheel.run(lw.url, budget=2000, seed=7, concurrency=12))
    exp = result.report
    assert result.decided_after is not None and exp["winner"] == "line", exp
    block = next(a for a in exp["arms"] if a["name"] == "block")
    assert block["shown"] >= flywheel.EXPERIMENT["min_shown"]
    assert result.after_cost_per_accepted is not None
    assert result.after_cost_per_accepted < block["cost_usd_per_accepted"]
