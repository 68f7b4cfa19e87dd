"""What one feature or one change costs a request under load: laneway variants side by side.

    .venv/bin/python -m loadtests.bench.variants --body fim --rounds 5 \\
        --variant base --variant no_typeahead=:policy.yaml --variant before=HEAD~1

Each `--variant NAME[=CODE][:POLICY]` is a laneway server of its own (CODE: a git ref,
exported with `git archive`, or a directory; the work tree when empty. POLICY: a policy
name or file; `default` when left out), all started at once on the same fleet and Redis, in
the benchmark's arrangement (wrk, the fleet and Redis on CPU 0, laneway on CPU 1). The
rounds take the variants in turn (a second of warm-up, then wrk c16 with unique bodies), so
a slow spell of the host falls on all of them; it prints each variant's CPU per request per
round and the median. A difference that the rounds do not agree on is noise.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

import yaml

from loadtests.bench import wrk
from loadtests.bench.bodies import KINDS
from loadtests.bench.procs import (
    ROOT,
    PrivateRedis,
    Server,
    cpu_count,
    export_tree,
    fleet_server,
    laneway_server,
)
from loadtests.bench.run import HEADERS, laneway_config


def _parse(spec: str, out: Path) -> tuple[str, Path, str]:
    name, _, rest = spec.partition("=")
    code, _, policy = rest.partition(":")
    src = ROOT
    if code:
        src = Path(code) if Path(code).is_dir() else export_tree(code, out / f"src-{name}")
    return name, src, policy or "default"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.variants", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", action="append", required=True,
                   help="NAME[=CODE][:POLICY]; give two or more")
    p.add_argument("--body", choices=sorted(KINDS), default="fim")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args(argv)
    if wrk.available() is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    out = ROOT / "bench-results" / time.strftime("variants-%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    load, sut = ({0}, {1}) if cpu_count() >= 2 else (set(), set())
    variants = [_parse(v, out) for v in args.variant]
    fleet = fleet_server("fleet", out / "fleet.log", load)
    redis = PrivateRedis(out, cpus=load)
    servers: dict[str, Server] = {}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in variants}
    nonce = secrets.token_hex(3)
    try:
        for name, src, policy in variants:
            cfg = laneway_config(fleet.url, redis.url)
            cfg["policy"] = policy
            path = out / f"{name}.yaml"
            path.write_text(yaml.safe_dump(cfg, sort_keys=False))
            servers[name] = laneway_server(name, path, out / f"{name}.log", sut, src)
        body = KINDS[args.body]("auto")
        for r in range(args.rounds):
            for name, s in servers.items():
                for phase, seconds in (("warm", 1.0), ("run", args.seconds)):
                    script = out / f"{name}-r{r}-{phase}.lua"
                    script.write_text(wrk.lua_script(body, HEADERS, True,
                                                     f"{nonce}{name}{r}{phase}"))
                    res = wrk.run(s.url, script, 16, seconds, load,
                                  watch=s.pid if phase == "run" else None)
                cpu[name].append(res.cpu_ms_per_request * 1000)
                print(f"round {r + 1}  {name:16} {res.rps:8,.0f} req/s  "
                      f"{cpu[name][-1]:6.0f} µs CPU/req  errors {res.errors}", flush=True)
    finally:
        for s in servers.values():
            s.stop()
        redis.stop()
        fleet.stop()
    print(f"\n{args.body}, unique bodies, c16, {args.rounds} rounds of {args.seconds:g} s:")
    for name, values in cpu.items():
        print(f"  {name:16} median {statistics.median(values):6.0f} µs CPU/req   rounds "
              + " ".join(f"{v:.0f}" for v in values))
    print(f"logs: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
