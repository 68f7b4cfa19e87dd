"""Server processes for the benchmark: free ports, pinning, time to ready, resident memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (uvicorn or litellm may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of the process tree (VmRSS from /proc), in MB (10^6 bytes)."""
    total_kb = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb * 1024 / 1e6


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by the process tree (all threads), in seconds."""
    ticks = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpus: set[int]) -> None:
    """Move every thread of every process in the tree onto `cpus` (no-op on one core)."""
    if not cpus or cpu_count() < 2:
        return
    for p in tree(pid):
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                os.sched_setaffinity(int(tid), cpus)
        except OSError:
            continue


def renice(pid: int, nice: int) -> None:
    """Set the nice value of every thread in the tree (negative values need root)."""
    if not nice:
        return
    for p in tree(pid):
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
        except OSError:
            continue


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Server:
    """A server started by the benchmark: pinned from its first instruction via taskset."""

    def __init__(self, name: str, args: list[str], port: int, ready_path: str, log: Path,
                 cpus: set[int] | None = None, env: dict[str, str] | None = None,
                 timeout: float = 120.0, cwd: Path = ROOT, nice: int = 0) -> None:
        self.name, self.port, self.log = name, port, log
        self.url = f"http://127.0.0.1:{port}"
        if cpus and cpu_count() >= 2:
            args = ["taskset", "-c", ",".join(map(str, sorted(cpus))), *args]
        if nice:
            args = ["nice", "-n", str(nice), *args]
        started = time.perf_counter()
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = started + timeout
        while not _ok(self.url + ready_path):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.proc.returncode}; see {log}")
            if time.perf_counter() > deadline:
                self.stop()
                raise RuntimeError(f"{name} not ready after {timeout:.0f} s; see {log}")
            time.sleep(0.01)
        self.ready_s = time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self) -> None:
        stop_group(self.proc)


def fleet_server(name: str, log: Path, cpus: set[int] | None, cwd: Path = ROOT,
                 nice: int = 0) -> Server:
    """The simulated fleet in zero-latency mode on a free port."""
    port = free_port()
    return Server(name, [sys.executable, "-m", "fleet", "--port", str(port), "--zero-latency"],
                  port, "/healthz", log, cpus, cwd=cwd, nice=nice)


def laneway_server(name: str, config: Path, log: Path, cpus: set[int] | None,
                   cwd: Path = ROOT, nice: int = 0) -> Server:
    """`laneway serve --config CONFIG` on a free port, ready once /readyz answers."""
    port = free_port()
    return Server(name, [sys.executable, "-m", "router.cli", "serve", "--config", str(config),
                         "--port", str(port)], port, "/readyz", log, cpus, cwd=cwd, nice=nice)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to a process started in its own session (its children go too), SIGKILL
    after 15 s."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def export_tree(ref: str, dest: Path) -> Path:
    """The project's packages as committed at `ref`, unpacked into `dest` (run with cwd=dest).

    Lets a benchmark measure a consistent state while others are mid-edit in the work tree.
    """
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", ref, "router", "policies", "cache", "fleet"], cwd=ROOT,
        capture_output=True, check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def redis_pong(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """A redis-server of the benchmark's own, empty, nothing kept on disk.

    Not the machine's shared Redis: keys left there by earlier runs (hundreds of thousands
    after a few runs) expire or make Redis grow its key table while laneway is measured,
    which showed up as laneway's p99 (+4-6 ms at c1 in one cell, +1 in the same cell the
    next run), and the benchmark should not fill a shared server anyway."""

    def __init__(self, workdir: Path, timeout: float = 10.0, nice: int = 0,
                 cpus: set[int] | None = None) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        # At the servers' nice value: at 0 beside them at -10 it starved past laneway's
        # 50 ms Redis deadline (its breaker opened mid-run).
        self.proc = subprocess.Popen(
            [*(["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus and cpu_count() >= 2
               else []),
             *(["nice", "-n", str(nice)] if nice else []),
             "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not redis_pong(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.01)

    def stop(self) -> None:
        stop_group(self.proc)
