"""`make bench`: laneway's overhead against the fleet direct, a bare pass-through and LiteLLM.

    .venv/bin/python -m loadtests.bench.run [--seconds 5] [--warmup 1] [--bodies qa,fim]

One machine, one run, one load generator (wrk, one thread). On two or more cores the load
generator and the fleet share CPU 0 and the server under test has CPU 1 to itself; for the
"fleet direct" cell a fleet of its own runs on CPU 1, so every server is measured alone on
its core with the same generator. Results: a rich table here, JSON and Markdown in bench-results/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml
from rich.console import Console

from loadtests.bench import litellm_proxy, report, wrk
from loadtests.bench.bodies import KINDS, MESSAGES_MODEL, Body
from loadtests.bench.procs import (
    ROOT,
    PrivateRedis,
    Server,
    cpu_count,
    export_tree,
    fleet_server,
    free_port,
    redis_pong,
)

PY = sys.executable
KEY = "sk-bench-team-a"
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
FLEET_MODELS = [  # name, tier, lanes, fim, price in/out
    ("qwen3-coder-1.5b", "small", ["completion", "qa"], "qwen", (0.05, 0.20)),
    ("qwen3-14b", "medium", ["completion", "qa", "agentic"], "qwen", (0.30, 1.20)),
    ("qwen3-235b-a22b", "large", ["qa", "agentic"], None, (1.20, 4.80)),
]
ALL_TARGETS = ("direct", "bare", "laneway", "litellm")
PINNED = "qwen3-coder-1.5b"  # what the non-routing targets are asked for
console = Console(width=max(Console().width, 220))


def bench_redis(workdir: Path, no_redis: bool, nice: int = 0, cpus: set[int] | None = None
                ) -> tuple[PrivateRedis | None, str | None, str]:
    """(its process, redis.url for laneway, what the notes say): a private redis-server when
    the binary is here, else the machine's Redis at 127.0.0.1:6379 if it answers."""
    if no_redis:
        return None, None, "NO redis.url: --no-redis"
    if shutil.which("redis-server"):
        r = PrivateRedis(workdir, nice=nice, cpus=cpus)
        where = (f"on CPU {','.join(map(str, sorted(cpus)))}" if cpus and cpu_count() >= 2
                 else "unpinned")
        return r, r.url, f"redis.url {r.url} (a private, empty redis-server, {where})"
    if redis_pong(6379):
        url = "redis://127.0.0.1:6379/0"
        return None, url, f"redis.url {url} (the machine's; no redis-server binary here)"
    return None, None, "NO redis.url: no redis-server binary and nothing on 127.0.0.1:6379"


def laneway_config(fleet: str, redis: str | None, budget: bool = False) -> dict[str, object]:
    """Every feature on: auth, the default policy, FIM families, Redis when it is there;
    with `budget`, the key is a team's with a budget (held and settled on every request)."""
    key: object = KEY
    if budget:
        key = {"key": KEY, "team": "bench", "budget": {"usd": 1e9, "period": "month"}}
    cfg: dict[str, object] = {
        "server": {"api_keys": [key], "max_body_bytes": 8388608},
        "policy": "default",
        "models": [
            {"name": n, "api_base": fleet + "/v1", "tier": t, "lanes": lanes,
             "context_window": 131072, "price_per_mtok": {"input": pi, "output": po},
             **({"fim": fim} if fim else {})}
            for n, t, lanes, fim, (pi, po) in FLEET_MODELS
        ],
    }
    # The Messages model of the native row: pinned by its body, in no lane `auto` routes to
    # from the other rows' bodies.
    cfg["models"].append({  # type: ignore[attr-defined]
        "name": MESSAGES_MODEL, "api_base": fleet + "/v1", "provider": "anthropic",
        "tier": "large", "lanes": ["agentic"], "context_window": 200000,
        "price_per_mtok": {"input": 3.0, "output": 15.0}})
    if redis:
        cfg["redis"] = {"url": redis}
    return cfg


class Bench:
    def __init__(self, args: argparse.Namespace, out: Path) -> None:
        self.args, self.out = args, out
        self.res = report.Results()
        two = cpu_count() >= 2
        self.load_cpus: set[int] = {0} if two else set()
        self.sut_cpus: set[int] = {1} if two else set()
        self.nonce = secrets.token_hex(4)
        self.fleet_pid = 0
        self.round = 0  # in every script's tag: no body repeats across rounds either
        self.bodies = [k.strip() for k in args.bodies.split(",") if k.strip()]
        self.targets = {k.strip() for k in args.targets.split(",") if k.strip()}
        # laneway and the fleet run from the work tree, or from a commit exported aside.
        self.src = Path(args.src) if args.src else ROOT
        if args.ref:
            self.src = export_tree(args.ref, out / "src")

    def script(self, body: Body, unique: bool, tag: str) -> Path:
        tag = f"{tag}-r{self.round}"
        p = self.out / f"{tag}-{body.path.rsplit('/', 1)[-1]}-{'u' if unique else 'f'}.lua"
        p.write_text(wrk.lua_script(body, HEADERS, unique, f"{self.nonce}{tag}"))
        return p

    def measure(self, target: str, url: str, model: str, unique: bool, pid: int) -> None:
        a = self.args
        for kind in self.bodies:
            body = KINDS[kind](model)
            # One script per wrk run: each numbers its bodies from 1, so unique bodies need
            # a prefix of their own per run, or a later run would repeat an earlier one's.
            n = a.nice
            up = self.fleet_pid if target != "direct" else None
            wrk.run(url, self.script(body, unique, f"{target}-warm"), 16, a.warmup,
                    self.load_cpus, nice=n)
            c1 = wrk.run(url, self.script(body, unique, f"{target}-c1"), 1, a.seconds,
                         self.load_cpus, watch=pid, upstream=up, nice=n)
            c16 = wrk.run(url, self.script(body, unique, f"{target}-c16"), 16, a.seconds,
                          self.load_cpus, watch=pid, upstream=up, nice=n)
            self.res.cells.append(report.Cell(target, kind, c1, c16))
            console.print(f"  {report.TARGETS[target]:32} {kind:4} {c16.rps:8,.0f} req/s c16  "
                          f"p50 c1 {c1.p50_ms:.2f} ms  CPU {c16.cpu_ms_per_request:.3f} ms/req  "
                          f"errors {c1.errors + c16.errors}")

    def server(self, name: str, args: list[str], port: int, ready: str,
               env: dict[str, str] | None = None, cwd: Path = ROOT) -> Server:
        log = self.out / (f"{name}-r{self.round}.log" if self.args.rounds > 1 else f"{name}.log")
        s = Server(name, args, port, ready, log, self.sut_cpus, env,
                   cwd=cwd, nice=self.args.nice)
        self.res.servers[name] = report.ServerInfo(ready_s=s.ready_s, cpu=str(self.sut_cpus))
        return s

    def finish(self, name: str, s: Server) -> None:
        self.res.servers[name].rss_mb = s.rss_mb()
        s.stop()

    def run(self) -> report.Results:
        exe: Path | None = None
        if "litellm" in self.targets:  # install first, while nothing is being measured
            console.print("LiteLLM proxy venv (the first run installs it: a few minutes)")
            exe, why = litellm_proxy.ensure_venv(self.out / "litellm-install.log")
            self.res.notes.append(f"LiteLLM proxy: {why}" if exe is None else
                                  f"LiteLLM: {why}; one worker, no master key, no database")
            if exe is None:
                self.res.missing["litellm"] = why
        fleet = fleet_server("fleet", self.out / "fleet.log", self.load_cpus, self.src,
                             self.args.nice)
        self.res.servers["fleet"] = report.ServerInfo(ready_s=fleet.ready_s)
        self.fleet_pid = fleet.pid
        try:
            # Rounds of the near cells, each server started afresh: the machine drifts by
            # tens of percent over minutes (same commit, bare proxy 0.20-0.31 ms CPU per
            # request across runs), so one pass of each would compare different moments.
            for n in range(self.args.rounds):
                self.round = n
                if self.args.rounds > 1:
                    console.print(f"round {n + 1} of {self.args.rounds}")
                if "direct" in self.targets:
                    self.direct()
                if "bare" in self.targets:
                    self.bare(fleet)
                if "laneway" in self.targets:
                    self.laneway(fleet)
            if exe is not None:  # 20-100x away: one pass says enough
                self.litellm(fleet, exe)
        finally:
            fleet.stop()
        self.res.keep_median_rounds()
        return self.res

    def direct(self) -> None:
        # A fleet of its own on the server core, stopped after the cell. Moving the shared
        # fleet there and back made the cells after it slower in their tail (laneway's qa p99
        # at c1 2.1-3.8 ms after it, 1.2 ms without it, same commit).
        console.print("(a) fleet direct, a fleet of its own on the server core")
        own = fleet_server("fleet-direct", self.out / "fleet-direct.log", self.sut_cpus,
                           self.src, self.args.nice)
        try:
            self.measure("direct", own.url, PINNED, True, own.pid)
            self.res.servers["fleet"].rss_mb = own.rss_mb()
        finally:
            own.stop()

    def bare(self, fleet: Server) -> None:
        console.print("(b) bare pass-through")
        port = free_port()
        s = self.server("bare", [PY, "-m", "loadtests.bench.bare_passthrough", str(port)], port,
                        "/healthz", {"UPSTREAM": fleet.url})
        try:
            self.measure("bare", s.url, PINNED, True, s.pid)
        finally:
            self.finish("bare", s)

    def laneway(self, fleet: Server) -> None:
        console.print("(c, d) laneway")
        proc, url, said = bench_redis(
            self.out, self.args.no_redis, self.args.nice,
            self.load_cpus if self.args.redis_cpu == "load" else None)
        try:
            cfg = self.out / "laneway.yaml"
            cfg.write_text(yaml.safe_dump(laneway_config(fleet.url, url, self.args.budget),
                                          sort_keys=False))
            note = "laneway config: 3 models on the fleet, auth on, policy default, " + said
            if self.args.budget:
                note += ", the key a team's with a budget (--budget)"
            if not any(n.startswith("laneway config:") for n in self.res.notes):
                self.res.notes.append(note)
            port = free_port()
            s = self.server("laneway", [PY, "-m", "router.cli", "serve", "--config", str(cfg),
                                        "--port", str(port)], port, "/readyz", cwd=self.src)
            try:
                self.measure("laneway", s.url, "auto", True, s.pid)
                self.measure("laneway-cache", s.url, "auto", False, s.pid)
            finally:
                self.finish("laneway", s)
        finally:
            if proc is not None:
                proc.stop()

    def litellm(self, fleet: Server, exe: Path) -> None:
        console.print("(e) LiteLLM proxy")
        lcfg = self.out / "litellm.yaml"
        litellm_proxy.write_config(lcfg, fleet.url + "/v1",
                                   [m[0] for m in FLEET_MODELS] + [MESSAGES_MODEL])
        port = free_port()
        try:
            s = self.server("litellm", litellm_proxy.command(exe, lcfg, port), port,
                            "/health/liveliness", litellm_proxy.ENV)
        except RuntimeError as exc:
            self.res.notes.append(f"LiteLLM proxy did not start: {exc}")
            self.res.missing["litellm"] = "did not start (see notes)"
            return
        try:
            self.measure("litellm", s.url, PINNED, True, s.pid)
        finally:
            self.finish("litellm", s)


def _rev(ref: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True,
                          text=True)
    return done.stdout.strip() or ref


def _dirty() -> bool:
    done = subprocess.run(["git", "status", "--porcelain", "--", "router", "policies", "cache",
                           "fleet"], cwd=ROOT, capture_output=True, text=True)
    return bool(done.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=5.0, help="per cell and concurrency")
    p.add_argument("--warmup", type=int, default=1.0, help="seconds at c16 before a cell")
    p.add_argument("--rounds", type=int, default=3,
                   help="passes over the direct, bare and laneway cells (the median is shown)")
    p.add_argument("--bodies", default="qa,fim,messages,messages-native",
                   help="comma list of: " + ",".join(KINDS))
    p.add_argument("--targets", default=",".join(ALL_TARGETS),
                   help="comma list (default: all): " + ",".join(ALL_TARGETS))
    p.add_argument("--out", default=str(ROOT / "bench-results"))
    p.add_argument("--ref", help="run laneway and the fleet as committed at this git ref "
                   "(default: the work tree as it is)")
    p.add_argument("--src", help="run laneway and the fleet from this directory instead")
    p.add_argument("--no-redis", action="store_true",
                   help="leave redis.url out of laneway's config even when Redis answers")
    p.add_argument("--budget", action="store_true",
                   help="laneway's key belongs to a team with a budget: every request holds "
                        "its worst case before the upstream call and settles after")
    p.add_argument("--redis-cpu", choices=("load", "any"), default="load",
                   help="where the benchmark's redis-server runs: on the load's CPU (with wrk "
                        "and the fleet; default) or wherever the scheduler puts it")
    p.add_argument("--nice", type=int, default=0,
                   help="run servers and wrk at this nice value (e.g. -10 on a shared, busy "
                        "machine; negative needs root)")
    args = p.parse_args(argv)
    if wrk.available() is None:
        print("wrk is missing: apt-get install -y wrk (or `make bench`)", file=sys.stderr)
        return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) / stamp
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    # What is measured is named before it runs: a commit made meanwhile must not be named.
    code = (f"git {args.ref} ({_rev(args.ref)})" if args.ref else f"directory {args.src}"
            if args.src else f"work tree at {_rev('HEAD')}"
            + (" with uncommitted changes" if _dirty() else ""))
    if args.ref:
        args.ref = _rev(args.ref)  # the export below takes this very commit
    bench = Bench(args, out)
    started = time.monotonic()
    res = bench.run()
    cpus = cpu_count()
    res.notes.append(
        f"{cpus} CPUs; " + ("wrk (-t1) and the fleet on CPU 0, the server under test on CPU 1 "
                            "(cell a: a fleet of its own on CPU 1); Redis "
                            + ("on CPU 0" if args.redis_cpu == "load" else "unpinned")
                            if cpus >= 2 else "one CPU: nothing pinned"))
    res.notes.append("laneway and fleet code: " + code)
    if args.nice:
        res.notes.append(f"servers and wrk ran at nice {args.nice} (other work on the machine "
                         "yields to them)")
    res.notes.append(f"{args.seconds:g} s per cell and concurrency after a {args.warmup:g} s "
                     f"warm-up at c16; whole run {time.monotonic() - started:.0f} s; load "
                     f"average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    report.print_rich(res, console)
    (out / "results.json").write_text(json.dumps(dataclasses.asdict(res), indent=1))
    (out / "results.md").write_text(report.markdown(res))
    console.print(f"results: {out}/results.md and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
