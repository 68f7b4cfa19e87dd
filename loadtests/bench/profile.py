"""Profile laneway's request path under load: py-spy on the server while wrk drives it.

    .venv/bin/pip install py-spy   # not a project dependency: only this tool needs it
    .venv/bin/python -m loadtests.bench.profile [--body qa|fim] [--identical] [--seconds 10]

Same arrangement as the benchmark (wrk and the fleet on CPU 0, laneway on CPU 1). Prints the
hottest lines (self time) and the heaviest functions (inclusive time) as shares of all
on-CPU samples of laneway's process; keeps py-spy's raw collapsed stacks (flamegraph input)
and an SVG flamegraph in bench-results/profile-*/.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from loadtests.bench import wrk
from loadtests.bench.bodies import KINDS
from loadtests.bench.procs import (
    ROOT,
    Server,
    cpu_count,
    export_tree,
    fleet_server,
    free_port,
    laneway_server,
)
from loadtests.bench.run import HEADERS, bench_redis, laneway_config

PY = sys.executable
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]+)(?::(?P<line>\d+))?\)$")
_SITE = re.compile(r".*/(?:site|dist)-packages/")
# A thread parked here is idle, not working: py-spy --nonblocking cannot always tell.
_IDLE = {"Condition.wait", "Event.wait", "select", "poll", "_wait_for_tstate_lock",
         "_idle"}  # router/observe/logline.py: the access-log writer's pause between batches
_OURS = ("router/", "policies/", "cache/")


def _short(path: str) -> str:
    path = _SITE.sub("", path)
    for root in (str(ROOT) + "/", "/src/"):
        if root in path:
            return path.split(root, 1)[1]
    return path


@dataclass
class Profile:
    total: int = 0  # busy samples
    idle: int = 0  # samples of threads parked in a wait (left out of every share)
    own: Counter[str] = field(default_factory=Counter)  # self time by file:line
    incl: Counter[str] = field(default_factory=Counter)  # inclusive time by function
    ours: Counter[str] = field(default_factory=Counter)  # inclusive, laneway's functions
    package: Counter[str] = field(default_factory=Counter)  # self time by package
    stages: Counter[str] = field(default_factory=Counter)  # inclusive, by room of the chain


def parse_raw(text: str) -> Profile:
    """Shares of busy samples from py-spy's raw (collapsed stacks) output."""
    prof = Profile()
    for row in text.splitlines():
        stack, _, count = row.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = []
        for f in stack.split(";"):
            m = _FRAME.match(f.strip())
            if m:
                frames.append((m["func"], _short(m["file"]), m["line"] or "?"))
        if not frames:
            continue
        func, file, line = frames[-1]
        if func in _IDLE:
            prof.idle += n
            continue
        prof.total += n
        prof.own[f"{file}:{line} {func}"] += n
        prof.package[_package(file)] += n
        for name in {f"{fn} ({fl})" for fn, fl, _ in frames}:
            prof.incl[name] += n
        for name in {f"{fl} {fn}" for fn, fl, _ in frames if fl.startswith(_OURS)}:
            prof.ours[name] += n
        for name in {_stage(fl) for _, fl, _ in frames if fl.startswith(_ROOMS)}:
            prof.stages[name] += n
    return prof


# The request path by room: each stage of the chain (router/stages/<stage>.py), the front
# ends, the HTTP surface and the upstream side (adapters, the HTTP/1.1 client, SSE).
_ROOMS = ("router/stages/", "router/frontends/", "router/http/", "router/upstreams/")


def _stage(file: str) -> str:
    if file.startswith("router/stages/"):
        return "stage " + file.removeprefix("router/stages/").removesuffix(".py")
    return file.split("/", 2)[1]


def _package(file: str) -> str:
    """Who owns a frame's file: laneway's top-level folder, or the library's name."""
    if file.startswith(_OURS):
        return file.split("/", 1)[0] + "/"
    top = file.lstrip("<").split("/", 1)[0]
    return top.removesuffix(".py") or file


def _table(title: str, rows: Counter[str], total: int, limit: int) -> Table:
    t = Table(title=title)
    t.add_column("share", justify="right")
    t.add_column("where")
    for name, n in rows.most_common(limit):
        t.add_row(f"{n / total:.1%}", name)
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.profile", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--body", choices=sorted(KINDS), default="qa")
    p.add_argument("--identical", action="store_true", help="one body (cache hits once cached)")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--redis-cpu", choices=("load", "any"), default="load",
                   help="the redis-server on the load's CPU (as `make bench` runs it) or unpinned")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--gil", action="store_true",
                   help="sample only the thread holding the GIL (time spent waiting for the "
                        "GIL, e.g. behind a worker thread, is then left out)")
    p.add_argument("--bare", action="store_true",
                   help="profile the bare pass-through instead (the floor to compare against)")
    p.add_argument("--after", choices=sorted(KINDS),
                   help="first drive this body (unique, 15 s) through the same server, as the "
                        "benchmark measures fim after qa: caches full of the other lane")
    p.add_argument("--ref", help="profile laneway as committed at this git ref")
    p.add_argument("--src", help="profile laneway from this directory (router/, policies/, ...)")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(PY).with_name("py-spy"))
    if not Path(spy).exists() or wrk.available() is None:
        print("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    out = ROOT / "bench-results" / time.strftime("profile-%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    src = Path(args.src) if args.src else ROOT
    if args.ref:
        src = export_tree(args.ref, out / "src")
    load, sut = ({0}, {1}) if cpu_count() >= 2 else (set(), set())
    fleet = fleet_server("fleet", out / "fleet.log", load, src)
    lw: Server | None = None
    redis, url, _ = bench_redis(out, False, cpus=load if args.redis_cpu == "load" else None)
    try:
        cfg = out / "laneway.yaml"
        cfg.write_text(yaml.safe_dump(laneway_config(fleet.url, url), sort_keys=False))
        if args.bare:
            port = free_port()
            lw = Server("bare", [PY, "-m", "loadtests.bench.bare_passthrough", str(port)], port,
                        "/healthz", out / "bare.log", sut, env={"UPSTREAM": fleet.url}, cwd=src)
        else:
            lw = laneway_server("laneway", cfg, out / "laneway.log", sut, src)
        nonce = secrets.token_hex(4)  # Redis (L2) outlives this laneway: no repeats

        def script(tag: str, kind: str = args.body, unique: bool = not args.identical) -> Path:
            path = out / f"load-{tag}.lua"  # unique bodies must not repeat across wrk runs
            path.write_text(wrk.lua_script(KINDS[kind]("auto"), HEADERS, unique,
                                           f"{nonce}-{tag}"))
            return path

        if args.after:
            wrk.run(lw.url, script("after", args.after, True), args.connections, 15, load)
        wrk.run(lw.url, script("warm"), args.connections, 2, load)  # warm-up
        raw = out / "pyspy.raw"
        spy_args = [spy, "record", "-p", str(lw.pid), "-r", str(args.rate), "-d",
                    str(args.seconds), "--nonblocking", *(["--gil"] if args.gil else [])]
        rec = subprocess.Popen([*spy_args, "-f", "raw", "-o", str(raw)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        result = wrk.run(lw.url, script("run"), args.connections, args.seconds, load)
        rec.wait(60)
        svg = subprocess.Popen([*spy_args, "-d", "4", "-f", "flamegraph", "-o",
                                str(out / "flamegraph.svg")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wrk.run(lw.url, script("svg"), args.connections, 4, load)
        svg.wait(60)
    finally:
        if lw is not None:
            lw.stop()
        fleet.stop()
        if redis is not None:
            redis.stop()
    prof = parse_raw(raw.read_text())
    console = Console(width=max(Console().width, 160))
    who = "bare pass-through" if args.bare else "laneway"
    console.print(f"{who} under wrk c{args.connections}, {args.body} "
                  f"{'identical' if args.identical else 'unique'} bodies: "
                  f"{result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, cache {result.cache}; "
                  f"{prof.total} busy samples ({prof.idle} idle left out)")
    console.print(_table("self time by package (compare with --bare)", prof.package, prof.total,
                         args.top))
    console.print(_table("self time (hottest lines)", prof.own, prof.total, args.top))
    console.print(_table("inclusive time (functions)", prof.incl, prof.total, args.top))
    console.print(_table("inclusive time, laneway's own functions", prof.ours, prof.total,
                         args.top))
    console.print(_table("inclusive time by stage of the chain and room (stages nest: "
                         "chain holds the others)", prof.stages, prof.total, args.top))
    console.print(f"raw stacks: {raw}\nflamegraph: {out / 'flamegraph.svg'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
