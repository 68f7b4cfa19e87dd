"""The report in the terminal (rich tables) and as Markdown (for the README)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from demo.report import LaneRow, Report, cache_mix, count, model_mix, ms, usd


def _traffic(report: Report) -> Table:
    t = Table(title="Traffic: what the client saw", title_justify="left")
    for col, just in (("lane", "left"), ("requests", "right"), ("models", "left"),
                      ("TTFT p50", "right"), ("TTFT p95", "right"), ("cache hits", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in [*report.rows, report.total]:
        t.add_row(r.lane, _requests(r), model_mix(r), ms(r.p(0.5)), ms(r.p(0.95)),
                  cache_mix(r), end_section=r is report.rows[-1])
    return t


def _requests(r: LaneRow) -> str:
    notes = [f"{r.aborted} superseded"] if r.aborted else []
    if r.errors:
        notes.append(f"[red]{r.errors} failed[/red]")
    return f"{r.requests:,}" + (f" ({', '.join(notes)})" if notes else "")


def _cost(report: Report) -> Table:
    t = Table(title="Tokens and cost: what laneway metered", title_justify="left")
    for col in ("lane", "input billed", "trimmed", "output", "cost", "all on largest",
                "saved"):
        t.add_column(col, justify="left" if col == "lane" else "right")
    for r in [*report.rows, report.total]:
        t.add_row(r.lane, count(r.tokens_in), count(r.tokens_trimmed), count(r.tokens_out),
                  usd(r.cost), usd(r.baseline), f"{usd(r.saved)} ({100 * r.saving:.0f}%)",
                  end_section=r is report.rows[-1])
    return t


def to_console(report: Report, console: Console) -> None:
    console.print()
    console.print(_traffic(report))
    console.print(_cost(report))
    total = report.total
    console.print(
        f"[bold]{total.requests:,} requests in {report.elapsed_s:.1f} s[/bold] "
        f"(seed {report.seed}, policy {report.policy!r}): laneway spent "
        f"[bold]{usd(total.cost)}[/bold] where the largest model for everything would have "
        f"cost {usd(total.baseline)}: [bold green]{100 * total.saving:.0f}% saved[/bold green]."
    )
    if total.misrouted:
        console.print(f"[yellow]{total.misrouted} request(s) landed in another lane than the "
                      "demo meant them for.[/yellow]")
    console.print(
        "[dim]TTFT: client-side, call to first streamed token. Cache hits: x-laneway-cache. "
        f"Tokens and cost: laneway's /metrics over the run. {TOKENS_NOTE}[/dim]"
    )


TOKENS_NOTE = (
    "Input billed: prompt tokens the models were sent, after trimming (a cache hit bills "
    "none). Trimmed: tokens the lane's budgets cut from what the clients sent, counted for "
    "every request, cache hits included, so a lane can trim more than it bills. "
    "All on largest: the same requests, untrimmed, on the largest model at its list price."
)


def to_markdown(report: Report, command: str = "laneway demo --markdown FILE") -> str:
    """The cost-per-lane table as the README shows it, with how to make it again."""
    lines = ["| lane | requests | models | input billed | trimmed | output | laneway cost "
             "| all on largest | saved |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in [*report.rows, report.total]:
        name = f"**{r.lane}**" if r.lane == "total" else f"`{r.lane}`"
        lines.append(
            f"| {name} | {r.requests:,} | {model_mix(r) if r.lane != 'total' else ''} "
            f"| {count(r.tokens_in)} | {count(r.tokens_trimmed)} | {count(r.tokens_out)} "
            f"| {usd(r.cost)} | {usd(r.baseline)} | {usd(r.saved)} ({100 * r.saving:.0f}%) |"
        )
    total = report.total
    lines += ["", f"{total.requests:,} requests, seed {report.seed}, policy "
                  f"`{report.policy}`: {usd(total.cost)} instead of {usd(total.baseline)}, "
                  f"**{100 * total.saving:.0f}% saved**. {TOKENS_NOTE} "
                  f"Made by `{command}`."]
    return "\n".join(lines) + "\n"
