"""laneway's memory through one huge upstream answer, against its idle baseline.

    .venv/bin/python -m loadtests.bench.answer_rss [--mb 200] [--ref GIT_REF]

Starts the fleet (from the work tree: its `answer_bytes` fault pads an answer) and laneway
(from the work tree, or as committed at `--ref`), sends one small request, then one whose
answer the fleet pads to `--mb` MB, non-streamed and then streamed, and prints laneway's
resident memory: idle, the peak (VmHWM) through each answer, and the answer's status.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import yaml

from loadtests.bench.procs import ROOT, export_tree, fleet_server, laneway_server, rss_mb, tree


def _peak_mb(pid: int) -> float:
    """The high-water mark of resident memory (VmHWM) over the process tree, in MB."""
    total_kb = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total_kb += sum(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        except OSError:
            continue
    return total_kb * 1024 / 1e6


def _post(url: str, body: dict[str, object]) -> tuple[int, int]:
    """(status, bytes of the answer)."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            size = 0
            while chunk := resp.read(1 << 20):
                size += len(chunk)
            return resp.status, size
    except urllib.error.HTTPError as err:
        return err.code, len(err.read())


def _fault(fleet_url: str, fault: dict[str, object]) -> None:
    urllib.request.urlopen(urllib.request.Request(
        fleet_url + "/fleet/faults", data=json.dumps(fault).encode(),
        headers={"content-type": "application/json"})).read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--ref", help="run laneway as committed at this git ref")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cwd = export_tree(args.ref, work / "tree") if args.ref else ROOT
        fleet = fleet_server("fleet", work / "fleet.log", None)
        try:
            base = fleet.url + "/v1"
            config = work / "laneway.yaml"
            config.write_text(yaml.safe_dump({"models": [
                {"name": "m", "api_base": base, "tier": "small", "lanes": ["qa"],
                 "context_window": 32768}]}))
            fault = {"model": "*", "answer_bytes": args.mb * 1_000_000}
            for stream in (False, True):  # a fresh laneway each: VmHWM only ever grows
                laneway = laneway_server("laneway", config, work / "laneway.log", None, cwd=cwd)
                try:
                    url = laneway.url + "/v1/chat/completions"
                    ask = {"model": "auto", "temperature": 0.9, "stream": stream,
                           "messages": [{"role": "user", "content": "Explain git rebase."}]}
                    _fault(fleet.url, {"model": "*", "answer_bytes": 0})
                    _post(url, ask)
                    idle = rss_mb(laneway.pid)
                    _fault(fleet.url, fault)
                    status, size = _post(url, ask)
                    print(f"laneway {args.ref or 'work tree'}, {args.mb} MB answer "
                          f"{'streamed' if stream else 'plain'}: HTTP {status}, "
                          f"{size / 1e6:.1f} MB to the client; RSS idle {idle:.0f} MB, "
                          f"peak {_peak_mb(laneway.pid):.0f} MB, "
                          f"after {rss_mb(laneway.pid):.0f} MB")
                finally:
                    laneway.stop()
        finally:
            fleet.stop()


if __name__ == "__main__":
    main()
