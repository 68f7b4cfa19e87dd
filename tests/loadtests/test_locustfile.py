"""Issue 7: the locustfile runs headless against a laneway with no failures, all lanes named.

locust runs as its own process (it monkey-patches the standard library with gevent), a few
seconds against the fleet and laneway the session fixtures started; its CSV is the verdict.
Long enough for the one agent user's first answer: the large model takes ~1 s to its first
token, and a cold laneway more (requests finishing while locust stops are not counted).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from procs import ROOT, Proc

LANES = {"completion", "qa", "agentic"}


def test_locust_headless_no_failures_all_lanes(laneway: Proc, tmp_path: Path):
    prefix = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests" / "locustfile.py"),
         "--headless", "--host", laneway.url, "-u", "10", "-r", "10", "-t", "8s",
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=90, check=False,
        env={**os.environ, "LOCUST_SEED": "1"},
    )
    with Path(f"{prefix}_stats.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    named = [r for r in rows if r["Name"] != "Aggregated"]
    failures = {r["Name"]: r["Failure Count"] for r in named if r["Failure Count"] != "0"}
    assert not failures, Path(f"{prefix}_failures.csv").read_text()
    assert done.returncode == 0, done.stderr[-3000:]
    # Every request is named after its lane, and every lane was load-tested.
    lanes = {r["Name"].split(":", 1)[0] for r in named if int(r["Request Count"]) > 0}
    assert lanes == LANES, [r["Name"] for r in named]
    assert all(r["Type"] == "POST" for r in named)
