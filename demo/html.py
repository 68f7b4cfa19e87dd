"""The report as one self-contained HTML file: headline figures, tables and inline SVG charts,
no scripts, no CDN, so it opens offline and can be attached to an issue as it is.

Charts are drawn in a fixed coordinate space (viewBox) and scale to the page's width, so a
phone shows them whole rather than cut off; every segment carries its number, in the bar
when it fits, else in the line under it.
"""

from __future__ import annotations

from html import escape

from demo.report import (
    HIT_TIERS,
    LaneRow,
    Report,
    cache_mix,
    count,
    model_mix,
    ms,
    usd,
)

PALETTE = ("#2f6fde", "#e8833a", "#3aa76d", "#b04fc8", "#c9a227", "#d9534f", "#5bc0de")
GREY, DARK = "#9aa0a6", "#5f6368"
_W, _LABEL, _BAR, _GAP = 720, 90, 18, 14  # viewBox units: ~1:1.4 on a desktop, 1:2 on a phone
_PLOT = _W - _LABEL - 150  # room right of the longest bar for its value


def _text(x: float, y: float, s: str, size: int = 12, fill: str = "#333",
          anchor: str = "start") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" '
            f'text-anchor="{anchor}">{escape(s)}</text>')


def _bars(title: str, rows: list[tuple[str, list[tuple[str, float, str]]]],
          legend: list[str], marks: dict[str, tuple[float, str]] | None = None,
          per_row_scale: bool = False) -> str:
    """Grouped horizontal bars with their values; `marks` draws a dashed line per row (a
    target). `per_row_scale`: each row on its own scale (lanes whose values differ 100x)."""
    colors = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(legend)}
    marks = marks or {}
    every = [v for _, bars in rows for _, v, _ in bars] + [m for m, _ in marks.values()]
    y, parts = 8.0, []
    for label, bars in rows:
        mark = marks.get(label)
        own = [v for _, v, _ in bars] + ([mark[0]] if mark else [])
        top = (max(own) if per_row_scale else max(every, default=0.0)) or 1.0
        height = len(bars) * _BAR
        parts.append(_text(0, y + height / 2 + 4, label, 13, "#222"))
        for series, v, text in bars:
            w = max(1.0, _PLOT * v / top)
            parts.append(f'<rect x="{_LABEL}" y="{y:.1f}" width="{w:.1f}" height="{_BAR - 3}" '
                         f'fill="{colors[series]}"><title>{escape(series)}: {escape(text)}'
                         f'</title></rect>')
            parts.append(_text(_LABEL + w + 6, y + _BAR - 6, f"{series} {text}", 11))
            y += _BAR
        if mark:
            x = _LABEL + _PLOT * mark[0] / top
            parts.append(f'<line x1="{x:.1f}" y1="{y - height - 3:.1f}" x2="{x:.1f}" '
                         f'y2="{y + 2:.1f}" stroke="#d9534f" stroke-width="1.5" '
                         f'stroke-dasharray="4 3"/>')
            parts.append(_text(x, y + 13, mark[1], 11, "#d9534f", "middle"))
            y += 14
        y += _GAP
    return _svg(title, parts, y, [(n, colors[n]) for n in legend])


def _stacked(title: str, rows: list[tuple[str, list[tuple[str, float]]]],
             colors: dict[str, str], legend: list[str] | None = None) -> str:
    """100% stacked bars; each segment's count and share in it when it fits, and every
    segment listed under its bar."""
    y, out = 8.0, []
    plot = _W - _LABEL - 10
    for label, row in rows:
        total = sum(v for _, v in row)
        out.append(_text(0, y + _BAR - 3, label, 13, "#222"))
        x = float(_LABEL)
        notes = []
        for name, v in row:
            if not v:
                continue
            share = 100 * v / total
            w = plot * v / total
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{_BAR + 2}" '
                       f'fill="{colors[name]}"><title>{escape(name)}: {v:,.0f} ({share:.0f}%)'
                       f'</title></rect>')
            inside = f"{name} {share:.0f}%"
            if w > 7 * len(inside) + 8:
                out.append(_text(x + 4, y + _BAR - 3, inside, 11, "#fff"))
            notes.append(f"{name} {v:,.0f} ({share:.0f}%)")
            x += w
        if not total:
            notes.append("nothing")
        out.append(_text(_LABEL, y + _BAR + 15, " · ".join(notes), 11, "#444"))
        y += _BAR + 22 + _GAP
    names = legend or list(dict.fromkeys(n for _, row in rows for n, v in row if v))
    return _svg(title, out, y, [(n, colors[n]) for n in names])


# Text is styled by attributes, not the page's CSS, so a chart copied out alone looks the same.
def _svg(title: str, parts: list[str], height: float, legend: list[tuple[str, str]]) -> str:
    keys, x, y = [], 0.0, height + 6
    for name, color in legend:
        width = 24 + 7 * len(name)
        if x + width > _W:  # wrap the legend rather than run off the chart
            x, y = 0.0, y + 18
        keys.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="11" height="11" fill="{color}"/>'
                    + _text(x + 15, y + 10, name, 12, "#444"))
        x += width
    total = y + 20
    return (f'<figure><figcaption>{escape(title)}</figcaption><svg xmlns="http://www.w3.org/'
            f'2000/svg" viewBox="0 0 {_W} {total:.0f}" font-family="system-ui, sans-serif" '
            f'role="img" aria-label="{escape(title)}">' + "".join(parts) + "".join(keys)
            + "</svg></figure>")


def _requests(r: LaneRow) -> str:
    notes = [f"{r.aborted} superseded"] if r.aborted else []
    if r.errors:
        notes.append(f"{r.errors} failed")
    return f"{r.requests:,}" + (f" ({', '.join(notes)})" if notes else "")


def _table(cls: str, head: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
                   for cells in rows)
    return (f'<div class="scroll"><table class="{cls}"><tr>'
            + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + body
            + "</table></div>")


def _lane_tables(report: Report) -> str:
    """The terminal's two tables: what the client saw, what laneway metered."""
    every = [*report.rows, report.total]
    traffic = _table("traffic", ("lane", "requests", "models", "TTFT p50", "TTFT p95",
                                 "cache hits"),
                     [(r.lane, _requests(r), model_mix(r), ms(r.p(0.5)), ms(r.p(0.95)),
                       cache_mix(r)) for r in every])
    cost = _table("cost", ("lane", "input billed", "trimmed", "output", "cost",
                           "all on largest", "saved"),
                  [(r.lane, count(r.tokens_in), count(r.tokens_trimmed), count(r.tokens_out),
                    usd(r.cost), usd(r.baseline), f"{usd(r.saved)} ({100 * r.saving:.0f}%)")
                   for r in every])
    return traffic + cost


def _models_table(report: Report) -> str:
    """Every configured model, and how many answers it gave per lane (0: not chosen)."""
    lanes = [r.lane for r in report.rows]
    head = ("model", "tier", "serves", *lanes, "total")
    rows = []
    for m in report.models:
        name = str(m["name"])
        served = [report.row(lane).models[name] for lane in lanes]
        lanes_of = m.get("lanes")
        rows.append((name, str(m.get("tier", "")),
                     ", ".join(lanes_of) if isinstance(lanes_of, list) else "",
                     *(f"{n:,}" for n in served),
                     f"{sum(served):,}" + ("" if sum(served) else " (unused)")))
    return _table("models", head, rows)


def _headline(report: Report) -> str:
    t = report.total
    comp = next((r for r in report.rows if r.lane == "completion"), None)
    target = report.targets_ms.get("completion")
    figures = [
        (f"{100 * t.saving:.0f}%", "saved against everything on the largest model"),
        (usd(t.cost), f"laneway's cost (all on largest: {usd(t.baseline)})"),
        (f"{t.requests:,}", f"requests; {t.aborted:,} superseded by the next keystroke"
                            + (f", {t.errors} failed" if t.errors else "")),
        (f"{100 * t.hits / max(1, t.requests):.0f}%", "answered from cache"),
    ]
    if comp is not None and comp.p(0.5) is not None:
        figures.append((ms(comp.p(0.5)), "completion time to first token, p50"
                        + (f" (target {target:,.0f} ms)" if target else "")))
    return '<div class="headline">' + "".join(
        f'<div><b>{escape(big)}</b><span>{escape(small)}</span></div>' for big, small in figures
    ) + "</div>"


def to_html(report: Report) -> str:
    lanes = report.rows
    cost = _bars("Cost per lane: laneway against everything on the largest model", [
        (r.lane, [("laneway", r.cost, usd(r.cost)), ("all on largest", r.baseline,
                                                      usd(r.baseline))]) for r in lanes
    ], ["laneway", "all on largest"])
    marks = {lane: (t, f"target {t:,.0f} ms") for lane, t in report.targets_ms.items()}
    ttft = _bars("Time to first token, client-side (each lane on its own scale; dashed: the "
                 "lane's target)", [
        (r.lane, [("p50", r.p(0.5) or 0.0, ms(r.p(0.5))), ("p95", r.p(0.95) or 0.0,
                                                           ms(r.p(0.95)))]) for r in lanes
    ], ["p50", "p95"], marks, per_row_scale=True)
    requests = _stacked("Requests: answered, superseded by the next keystroke, failed", [
        (r.lane, [("answered", r.requests - r.aborted - r.errors),
                  ("superseded", r.aborted), ("failed", r.errors)]) for r in lanes],
        {"answered": PALETTE[2], "superseded": PALETTE[1], "failed": PALETTE[5]},
        ["answered", "superseded", "failed"])
    tokens = _stacked("Input tokens: billed (sent to a model) and trimmed away", [
        (r.lane, [("billed", r.tokens_in), ("trimmed", r.tokens_trimmed)]) for r in lanes],
        {"billed": PALETTE[0], "trimmed": GREY}, ["billed", "trimmed"])
    names = [str(m["name"]) for m in report.models] or list(
        dict.fromkeys(n for r in lanes for n in r.models))
    names += [n for r in lanes for n in r.models if n not in names]
    model_colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    models = _stacked("Answers per model and lane (every configured model in the legend)", [
        (r.lane, [(n, float(r.models[n])) for n in names]) for r in lanes],
        model_colors, names)
    tiers = ("miss", *HIT_TIERS, "bypass")
    cache = _stacked("Answers by cache tier (x-laneway-cache)", [
        (r.lane, [(t, float(r.cache[t])) for t in tiers]) for r in lanes],
        {"miss": GREY, "bypass": DARK} | {t: PALETTE[i] for i, t in enumerate(HIT_TIERS)})
    t = report.total
    summary = (f"{t.requests:,} requests in {report.elapsed_s:.1f} s (seed {report.seed}, "
               f"policy {report.policy}).")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>laneway demo report</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1em;
       color: #222; max-width: 1200px; }}
.headline {{ display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0; }}
.headline div {{ flex: 1 1 11em; background: #f3f6fb; border-radius: 8px; padding: .7em 1em; }}
.headline b {{ display: block; font-size: 1.9em; color: #1d4fa8; }}
.headline span {{ font-size: .9em; color: #444; }}
.scroll {{ overflow-x: auto; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right;
          white-space: nowrap; }}
td:first-child, th:first-child, .traffic :is(td, th):nth-child(3),
.traffic :is(td, th):nth-child(6), .models :is(td, th):nth-child(-n+3) {{ text-align: left; }}
:is(.traffic, .cost) tr:last-child td {{ font-weight: bold; }}
.traffic td:nth-child(3), .traffic td:nth-child(6) {{ white-space: normal; min-width: 12em; }}
figure {{ margin: 1.8em 0; }} figcaption {{ font-weight: bold; margin-bottom: .4em; }}
svg {{ width: 100%; max-width: 1000px; height: auto; display: block; }}
</style></head><body>
<h1>laneway demo</h1>
<p>{escape(summary)}</p>
{_headline(report)}
{_lane_tables(report)}
{cost}{ttft}{requests}{tokens}
<h2>Models</h2>
{_models_table(report)}
{models}{cache}
<p><small>TTFT is measured client-side from the call to the first streamed token; targets
come from the lane policy. Superseded: completion requests the client abandoned after the
first token because the next keystroke asked again. Cache tiers come from
<code>x-laneway-cache</code>. Tokens and cost are laneway's own counters over the run
(<code>laneway_tokens_total</code>, <code>laneway_cost_usd_total</code>,
<code>laneway_cost_saved_usd_total</code>): input billed is what the models were sent after
trimming (cache hits bill nothing); trimmed is what the lanes' budgets cut from every request,
cache hits included. "All on largest" prices every request, untrimmed, on the largest
configured model.</small></p>
</body></html>
"""
