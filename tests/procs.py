"""Real processes for end-to-end tests: the fleet, laneway, redis-server, on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
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


class Proc:
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
