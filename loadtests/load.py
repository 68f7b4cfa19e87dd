"""`make load`: the simulated fleet, laneway (with Redis when one answers on 127.0.0.1:6379),
and locust headless for a fixed time; CSV and HTML results in loadtests/results/.

Everything listens on loopback only and stops when the run ends. For a real deployment run
locust directly (see the README): `locust -f loadtests/locustfile.py --host URL`.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from demo import stack
from demo.report import LANES, count, usd
from demo.scrape import Samples, scrape

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
RESULTS = ROOT / "loadtests" / "results"
REDIS = ("127.0.0.1", 6379)


def redis_url() -> str | None:
    """A Redis that answers PING right now, or None (laneway then caches in-process)."""
    with contextlib.suppress(OSError), socket.create_connection(REDIS, timeout=0.5) as s:
        s.settimeout(0.5)
        s.sendall(b"PING\r\n")
        if s.recv(16).startswith(b"+PONG"):
            return f"redis://{REDIS[0]}:{REDIS[1]}/0"
    return None


def run_locust(host: str, prefix: Path, run_time: str, users: int, spawn_rate: float,
               seconds: float) -> int:
    args = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", host, "-u", str(users), "-r", str(spawn_rate), "-t", run_time,
            "--csv", str(prefix), "--html", f"{prefix}.html", "--only-summary",
            "--stop-timeout", "5"]
    # Bounded even if locust hangs: its own run time plus start-up and stop.
    return subprocess.run(args, cwd=ROOT, timeout=seconds + 90, check=False).returncode


def lane_stats(stats_csv: Path) -> dict[str, dict[str, float]]:
    """Per lane from locust's per-name rows: requests, failures, mean response time."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with stats_csv.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                continue
            lane = row["Name"].split(":", 1)[0]
            n = float(row["Request Count"])
            out[lane]["requests"] += n
            out[lane]["failures"] += float(row["Failure Count"])
            out[lane]["time_sum"] += n * float(row["Average Response Time"])
    return out


def summary(stats: dict[str, dict[str, float]], metered: Samples, seconds: float,
            redis: str | None) -> Table:
    t = Table(title=f"laneway under load ({seconds:.0f} s, cache: "
                    f"{'Redis + in-process' if redis else 'in-process'})", title_justify="left")
    for col in ("lane", "requests", "req/s", "failures", "mean time", "cache hits", "models",
                "cost", "saved"):
        t.add_column(col, justify="left" if col in ("lane", "models") else "right")
    cache = {lane: metered.by("laneway_requests_total", "cache", lane=lane) for lane in LANES}
    models = {lane: metered.by("laneway_requests_total", "model", lane=lane) for lane in LANES}
    cost = metered.by("laneway_cost_usd_total", "lane")
    saved = metered.by("laneway_cost_saved_usd_total", "lane")
    for lane in LANES:
        s = stats.get(lane, {})
        n = s.get("requests", 0.0)
        served = sum(cache[lane].values()) or 1.0
        hits = sum(v for k, v in cache[lane].items() if k in ("l1", "l2", "typeahead",
                                                                "coalesced"))
        mix = ", ".join(f"{m} {100 * v / served:.0f}%" for m, v in
                        sorted(models[lane].items(), key=lambda kv: -kv[1]) if v)
        t.add_row(lane, count(n), f"{n / seconds:.1f}", count(s.get("failures", 0.0)),
                  f"{s.get('time_sum', 0.0) / n:,.0f} ms" if n else "—",
                  f"{100 * hits / served:.0f}%", mix or "—", usd(cost.get(lane, 0.0)),
                  usd(saved.get(lane, 0.0)))
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.load", description=__doc__)
    p.add_argument("--time", default="30s", help="locust run time: 30, 30s, 2m (LOAD_TIME)")
    p.add_argument("--users", type=int, default=40,
                   help="simulated developers, ~1 request/s each (LOAD_USERS)")
    p.add_argument("--spawn-rate", type=float, default=10.0)
    args = p.parse_args(argv)
    seconds = _seconds(args.time)
    # Not a terminal (CI, a pipe): rich would squeeze the table into 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=130)
    redis = redis_url()
    RESULTS.mkdir(parents=True, exist_ok=True)
    prefix = RESULTS / time.strftime("load-%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="laneway-load-") as tmp, \
            stack.running(Path(tmp), redis_url=redis) as (fleet, laneway):
        console.print(f"fleet {fleet.url}, laneway {laneway.url}, redis {redis or 'none'}; "
                      f"locust: {args.users} users for {args.time}")
        before = scrape(laneway.url)
        code = run_locust(laneway.url, prefix, args.time, args.users, args.spawn_rate, seconds)
        metered = scrape(laneway.url) - before
    stats_csv = Path(f"{prefix}_stats.csv")
    if stats_csv.exists():
        console.print(summary(lane_stats(stats_csv), metered, seconds, redis))
    console.print(f"results: {prefix}_*.csv and {prefix}.html")
    return code


def _seconds(run_time: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    total, digits = 0.0, ""
    for ch in run_time.strip():
        if ch.isdigit() or ch == ".":
            digits += ch
        elif ch in units and digits:
            total, digits = total + float(digits) * units[ch], ""
        else:
            raise SystemExit(f"load: cannot read the run time {run_time!r} (e.g. 30s, 2m)")
    return total + float(digits or 0)


if __name__ == "__main__":
    sys.exit(main())
