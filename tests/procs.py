"""Real processes for end-to-end tests: the fleet, laneway, redis-server, on free ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def low_port(limit: int = 55000) -> int:
    """A free port below `limit`, so that a Redis cluster bus (port + 10000) is valid too."""
    while (port := free_port()) >= limit:
        pass
    return port


def wait_until(check: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    """Poll `check` until it holds; a bounded wait for a process, never a fixed sleep."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"timed out waiting for {what}")


class _Stops:
    """`with` stops the process at the end."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Proc(_Stops):
    def __init__(
        self, args: list[str], url: str, ready_path: str, env: dict[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.url = url
        self.log_path = log
        if log:
            with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(
                    args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                    stderr=subprocess.STDOUT,
                )
        else:
            self.proc = subprocess.Popen(
                args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_until(lambda: self._ready(ready_path), what=f"{args[:3]} to be ready")
        except TimeoutError:
            self.stop()
            raise

    def _ready(self, path: str) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"process exited with {self.proc.returncode}: {self.log()}")
        return httpx.get(self.url + path, timeout=1).status_code == 200

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class RedisServer(_Stops):
    """A private redis-server (or a cluster node): a test may freeze it (SIGSTOP), kill it and
    start it again on the same port without disturbing others. Nothing is kept on disk."""

    def __init__(self, workdir: Path, *extra: str, port: int | None = None) -> None:
        self.workdir, self.extra = workdir, extra
        self.password = extra[extra.index("--requirepass") + 1] if "--requirepass" in extra else ""
        self.port = port or low_port()
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server (again, after `kill`: on the same port, empty)."""
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), *self.extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(self._pong, 10, f"redis-server on {self.port}")
        except TimeoutError:
            self.kill()
            raise

    def _pong(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"redis-server on {self.port} exited with {self.proc.returncode}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
            s.settimeout(0.2)
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith((b"+PONG", b"-NOAUTH"))  # up (with a password)

    def freeze(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process dies only once resumed
            self.proc.kill()
            self.proc.wait(5)

    stop = kill  # no graceful end needed: nothing is kept

    def cli(self, *args: str) -> str:
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        out = subprocess.run([REDIS_CLI, "-p", str(self.port), *auth, *args],
                             capture_output=True, timeout=5, check=True)
        return out.stdout.decode().strip()

    def answers(self) -> int:
        """Answers laneway's cache stored here (keys of its own prefix)."""
        keys = self.cli("--scan", "--pattern", "lw:v1:r:*")
        return len(keys.split()) if keys else 0


def start_cluster(tmp: Path, *extra: str, nodes: int = 3) -> list[RedisServer]:
    """A Redis Cluster of `nodes` masters, no replicas, its slots spread by
    `redis-cli --cluster create`; `extra` goes to every node. The caller kills the nodes."""
    servers: list[RedisServer] = []
    try:
        for i in range(nodes):
            workdir = tmp / f"node{i}"
            workdir.mkdir()
            servers.append(RedisServer(workdir, "--cluster-enabled", "yes",
                                       "--cluster-config-file", str(workdir / "nodes.conf"),
                                       *extra))
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in servers),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, timeout=20, check=True, env={**os.environ, "NO_COLOR": "1"},
        )
        wait_until(lambda: all("cluster_state:ok" in n.cli("cluster", "info") for n in servers),
                   15, "the cluster to agree on its slots")
    except BaseException:
        for n in servers:
            n.kill()
        raise
    return servers


def start_fleet(tmp: Path, config: dict[str, Any] | None = None) -> Proc:
    port = free_port()
    args = [sys.executable, "-m", "fleet", "--port", str(port)]
    if config is not None:
        f = tmp / f"fleet-{port}.yaml"
        f.write_text(yaml.safe_dump(config))
        args += ["--config", str(f)]
    return Proc(args, f"http://127.0.0.1:{port}", "/healthz", log=tmp / f"fleet-{port}.log")


def fleet_models(fleet_url: str) -> list[dict[str, Any]]:
    """A laneway config's models on the fleet: the Qwen3-like family of three sizes."""
    base = fleet_url + "/v1"
    return [
        {"name": "qwen3-coder-1.5b", "api_base": base, "tier": "small",
         "lanes": ["completion", "qa"], "context_window": 32768, "fim": "qwen",
         "price_per_mtok": {"input": 0.05, "output": 0.20}},
        {"name": "qwen3-14b", "api_base": base, "tier": "medium",
         "lanes": ["completion", "qa", "agentic"], "context_window": 131072, "fim": "qwen",
         "price_per_mtok": {"input": 0.30, "output": 1.20}},
        {"name": "qwen3-235b-a22b", "api_base": base, "tier": "large",
         "lanes": ["qa", "agentic"], "context_window": 131072,
         "price_per_mtok": {"input": 1.20, "output": 4.80}},
    ]


def start_laneway(tmp: Path, config: dict[str, Any], workers: int = 1,
                  env: dict[str, str] | None = None) -> Proc:
    port = free_port()
    f = tmp / f"laneway-{port}.yaml"
    f.write_text(yaml.safe_dump(config))
    args = [sys.executable, "-m", "router.cli", "serve", "--config", str(f), "--port", str(port),
            "--workers", str(workers)]
    return Proc(args, f"http://127.0.0.1:{port}", "/readyz", env=env,
                log=tmp / f"laneway-{port}.log")
