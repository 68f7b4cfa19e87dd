"""The load generator: wrk (Debian's), driven by a generated Lua script.

The script makes every body unique with a counter (or sends one fixed body), counts the
statuses and the `x-laneway-cache` values it saw, and prints one `BENCH {json}` line.
The same script shape is used for every cell so the generator's cost is the same.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.bench.bodies import PLACEHOLDER, Body
from loadtests.bench.procs import cpu_seconds

_COMMON = r"""
local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end
function init(args)
  cache = {}
  statuses = {}
  counter = 0
end
function response(status, headers, body)
  local s = tostring(status)
  statuses[s] = (statuses[s] or 0) + 1
  local c = headers["x-laneway-cache"] or "-"
  cache[c] = (cache[c] or 0) + 1
end
local function merge(into, from)
  for k, v in pairs(from or {}) do into[k] = (into[k] or 0) + v end
end
local function obj(t)
  local parts = {}
  for k, v in pairs(t) do table.insert(parts, string.format('"%s":%d', k, v)) end
  return "{" .. table.concat(parts, ",") .. "}"
end
function done(summary, latency, requests)
  local c, s = {}, {}
  for _, t in ipairs(threads) do merge(c, t:get("cache")); merge(s, t:get("statuses")) end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"socket_errors":%d,"cache":%s,"status":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout, obj(c), obj(s)))
end
"""


def lua_script(body: Body, headers: dict[str, str], unique: bool, nonce: str) -> str:
    """The wrk script for one cell; `nonce` keeps bodies unique across runs and warm-ups."""
    hdrs = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    head, _, tail = body.template.partition(PLACEHOLDER)
    if not unique:
        fixed = body.render("fixed")
        return (
            f'wrk.method = "POST"\nwrk.path = "{body.path}"\n'
            f"wrk.headers = {{{hdrs}}}\n"
            f"wrk.body = [==[{fixed.decode()}]==]\n" + _COMMON
        )
    return (
        f"local head = [==[{head}]==]\nlocal tail = [==[{tail}]==]\n"
        f"local hdrs = {{{hdrs}}}\n" + _COMMON
        + "function request()\n  counter = counter + 1\n"
        + f'  return wrk.format("POST", "{body.path}", hdrs,\n'
        + f'    head .. "{nonce}-" .. tid .. "-" .. counter .. tail)\nend\n'
    )


@dataclass
class WrkResult:
    connections: int
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    socket_errors: int
    status: dict[str, int] = field(default_factory=dict)
    cache: dict[str, int] = field(default_factory=dict)
    wrk_cpu: float = 0.0  # cores used by wrk itself (1.0 = one core saturated)
    server_cpu_s: float = 0.0  # CPU seconds the watched server used during the run
    upstream_cpu_s: float = 0.0  # ... and the fleet behind it (0 when it is the server)

    @property
    def upstream_cores(self) -> float:
        """How busy the fleet was (1.0 = a whole core): near 1 means it set the pace."""
        return self.upstream_cpu_s / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_ms_per_request(self) -> float:
        """The server's own CPU cost of one request: robust to other load on the machine."""
        return self.server_cpu_s * 1000 / self.requests if self.requests else 0.0

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.status.items() if s.startswith("2"))

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.requests - self.ok + self.socket_errors


def available() -> str | None:
    return shutil.which("wrk")


def run(url: str, script: Path, connections: int, seconds: float, cpus: set[int] | None,
        timeout_s: float = 10.0, watch: int | None = None, upstream: int | None = None,
        nice: int = 0) -> WrkResult:
    """One wrk run; `watch` and `upstream` are pids whose CPU time is measured meanwhile."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"--timeout={timeout_s:g}s", "-s", str(script), url]
    if cpus and len(os.sched_getaffinity(0)) >= 2:
        args = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *args]
    if nice:
        args = ["nice", "-n", str(nice), *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = cpu_seconds(watch) if watch else 0.0
    upstream_before = cpu_seconds(upstream) if upstream else 0.0
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(watch) - server_before if watch else 0.0
    upstream_cpu = cpu_seconds(upstream) - upstream_before if upstream else 0.0
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    d = json.loads(line[len("BENCH "):])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        connections=connections,
        requests=d["requests"],
        duration_s=d["duration_us"] / 1e6,
        p50_ms=d["p50_us"] / 1e3,
        p99_ms=d["p99_us"] / 1e3,
        max_ms=d["max_us"] / 1e3,
        socket_errors=d["socket_errors"],
        status=d["status"],
        cache=d["cache"],
        wrk_cpu=cpu / wall if wall else 0.0,
        server_cpu_s=server_cpu,
        upstream_cpu_s=upstream_cpu,
    )
