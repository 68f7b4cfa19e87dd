"""The report as one self-contained HTML file: tables and inline SVG charts, no scripts, no
CDN, so it opens offline and can be attached to an issue as it is."""

from __future__ import annotations

from html import escape

from demo.report import (
    HIT_TIERS,
    Report,
    cache_mix,
    count,
    model_mix,
    ms,
    usd,
)

PALETTE = ("#2f6fde", "#e8833a", "#3aa76d", "#b04fc8", "#c9a227", "#d9534f", "#5bc0de")
_W, _LABEL, _BAR, _GAP = 640, 110, 16, 10


def _bars(title: str, rows: list[tuple[str, list[tuple[str, float, str]]]],
          legend: list[tuple[str, str]]) -> str:
    """Grouped horizontal bars: per row, (series, value, text) bars on one linear scale."""
    top = max((v for _, bars in rows for _, v, _ in bars), default=0.0) or 1.0
    colors = {name: PALETTE[i % len(PALETTE)] for i, (name, _) in enumerate(legend)}
    y, parts = 6, []
    for label, bars in rows:
        parts.append(f'<text x="0" y="{y + _BAR}" font-size="13">{escape(label)}</text>')
        for series, v, text in bars:
            w = max(1.0, (_W - _LABEL - 120) * v / top)
            parts.append(f'<rect x="{_LABEL}" y="{y}" width="{w:.1f}" height="{_BAR - 2}" '
                         f'fill="{colors[series]}"><title>{escape(series)}: {escape(text)}'
                         f'</title></rect><text x="{_LABEL + w + 6:.1f}" y="{y + _BAR - 4}" '
                         f'font-size="11" fill="#444">{escape(text)}</text>')
            y += _BAR
        y += _GAP
    return _svg(title, parts, y, [(n, colors[n]) for n, _ in legend])


def _stacked(title: str, rows: list[tuple[str, list[tuple[str, float]]]],
             fixed: dict[str, str] | None = None) -> str:
    """100% stacked bars: each row's parts as shares of the row."""
    names = list(dict.fromkeys(n for _, parts in rows for n, v in parts if v))
    colors = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)} | (fixed or {})
    y, out = 6, []
    for label, row in rows:
        total = sum(v for _, v in row) or 1.0
        x = float(_LABEL)
        out.append(f'<text x="0" y="{y + _BAR}" font-size="13">{escape(label)}</text>')
        for name, v in row:
            if not v:
                continue
            w = (_W - _LABEL - 20) * v / total
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{_BAR + 4}" '
                       f'fill="{colors[name]}"><title>{escape(name)}: {v:,.0f} '
                       f'({100 * v / total:.0f}%)</title></rect>')
            if w > 36:  # a share fits inside its bar
                out.append(f'<text x="{x + 4:.1f}" y="{y + _BAR - 1}" font-size="11" fill="#fff">'
                           f'{100 * v / total:.0f}%</text>')
            x += w
        y += _BAR + 4 + _GAP
    return _svg(title, out, y, [(n, colors[n]) for n in names])


# Text is styled by attributes, not the page's CSS, so a chart copied out alone looks the same.
def _svg(title: str, parts: list[str], height: int, legend: list[tuple[str, str]]) -> str:
    keys, x = [], _LABEL
    for name, color in legend:
        keys.append(f'<rect x="{x}" y="{height + 4}" width="10" height="10" fill="{color}"/>'
                    f'<text x="{x + 14}" y="{height + 13}" font-size="11" fill="#444">'
                    f'{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return (f'<figure><figcaption>{escape(title)}</figcaption><svg xmlns="http://www.w3.org/2000'
            f'/svg" font-family="system-ui, sans-serif" width="{_W}" height="{height + 24}" '
            f'role="img" aria-label="{escape(title)}">'
            + "".join(parts) + "".join(keys) + "</svg></figure>")


def _table(report: Report) -> str:
    head = ("lane", "requests", "models", "TTFT p50", "TTFT p95", "cache hits", "tokens in",
            "trimmed", "out", "cost", "all on largest", "saved")
    rows = []
    for r in [*report.rows, report.total]:
        cells = (r.lane, f"{r.requests:,}", model_mix(r), ms(r.p(0.5)), ms(r.p(0.95)),
                 cache_mix(r), count(r.tokens_in), count(r.tokens_trimmed), count(r.tokens_out),
                 usd(r.cost), usd(r.baseline), f"{usd(r.saved)} ({100 * r.saving:.0f}%)")
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    return ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
            + "".join(rows) + "</table>")


def to_html(report: Report) -> str:
    lanes = report.rows
    cost = _bars("Cost per lane: laneway against everything on the largest model", [
        (r.lane, [("laneway", r.cost, usd(r.cost)), ("all on largest", r.baseline,
                                                      usd(r.baseline))]) for r in lanes
    ], [("laneway", ""), ("all on largest", "")])
    ttft = _bars("Time to first token (client-side)", [
        (r.lane, [("p50", r.p(0.5) or 0.0, ms(r.p(0.5))), ("p95", r.p(0.95) or 0.0,
                                                           ms(r.p(0.95)))]) for r in lanes
    ], [("p50", ""), ("p95", "")])
    tokens = _stacked("Input tokens: sent upstream and trimmed away", [
        (r.lane, [("sent", r.tokens_in), ("trimmed", r.tokens_trimmed)]) for r in lanes],
        {"trimmed": "#9aa0a6"})
    models = _stacked("Model mix per lane", [(r.lane, list(r.models.most_common()))
                                            for r in lanes])
    cache = _stacked("Answers by cache tier (x-laneway-cache)", [
        (r.lane, [(t, float(r.cache[t])) for t in ("miss", *HIT_TIERS, "bypass")])
        for r in lanes], {"miss": "#9aa0a6", "bypass": "#5f6368"})  # hits in colour
    t = report.total
    summary = (f"{t.requests:,} requests in {report.elapsed_s:.1f} s (seed {report.seed}, "
               f"policy {report.policy}): laneway spent {usd(t.cost)} where the largest model "
               f"for everything would have cost {usd(t.baseline)}: "
               f"{100 * t.saving:.0f}% saved.")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>laneway demo report</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child, td:nth-child(3), td:nth-child(6) {{ text-align: left; }}
tr:last-child td {{ font-weight: bold; }}
figure {{ margin: 1.5em 0; }} figcaption {{ font-weight: bold; margin-bottom: .3em; }}
</style></head><body>
<h1>laneway demo</h1>
<p>{escape(summary)}</p>
{_table(report)}
{cost}{ttft}{tokens}{models}{cache}
<p><small>TTFT is measured client-side from the call to the first streamed token. Cache tiers
come from <code>x-laneway-cache</code>. Tokens and cost are laneway's own counters over the
run (<code>laneway_tokens_total</code>, <code>laneway_cost_usd_total</code>,
<code>laneway_cost_saved_usd_total</code>); "all on largest" prices every request, untrimmed,
on the largest configured model.</small></p>
</body></html>
"""
