"""The simulated fleet and laneway as subprocesses on free loopback ports.

laneway's config is derived from the fleet's built-in profiles, so the prices laneway
meters and the sizes it routes between are the fleet's. No Redis: laneway's
cache is in-process unless a `redis_url` is given.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from fleet.profiles import BUILTIN_PROFILES

# Which lanes each size serves: the large model's ~1 s to first token cannot meet the
# completion lane's 300 ms, and a small coder is no agent.
TIER_LANES = {"small": ["completion", "qa"], "medium": ["completion", "qa", "agentic"],
              "large": ["qa", "agentic"]}


READY_S = 60.0  # start-up of both processes on a busy 2-core machine


class StackError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _spawn(name: str, args: list[str], port: int, tmp: Path) -> Service:
    log = tmp / f"{name}.log"
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    return Service(name, proc, f"http://127.0.0.1:{port}", log)


def _wait_ready(svc: Service, path: str, deadline: float) -> None:
    # Poll readiness (bounded): a process signals nothing else when it starts serving.
    while time.monotonic() < deadline:
        if svc.proc.poll() is not None:
            raise StackError(f"{svc.name} exited with {svc.proc.returncode}:\n{svc.tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(svc.url + path, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise StackError(f"{svc.name} was not ready in time:\n{svc.tail()}")


def laneway_config(fleet_url: str, policy: str = "default",
                   redis_url: str | None = None) -> dict[str, Any]:
    """laneway on the fleet's built-in models: their sizes, windows and prices."""
    models = [
        {"name": p.name, "api_base": fleet_url + "/v1", "tier": p.tier,
         "lanes": TIER_LANES[p.tier], "context_window": p.context_window,
         "price_per_mtok": {"input": p.price_input_per_mtok,
                            "output": p.price_output_per_mtok},
         # The fleet takes every FIM family; laneway renders Qwen's for its coders.
         **({"fim": "qwen"} if p.tier != "large" else {})}
        for p in BUILTIN_PROFILES if p.tier in TIER_LANES
    ]
    cfg: dict[str, Any] = {"policy": policy, "models": models}
    if redis_url:
        cfg["redis"] = {"url": redis_url}
    return cfg


@contextlib.contextmanager
def running(tmp: Path, policy: str = "default", redis_url: str | None = None,
            api_key: str | None = None) -> Iterator[tuple[Service, Service]]:
    """Fleet and laneway, stopped again on exit (also on errors and Ctrl-C)."""
    services: list[Service] = []
    try:
        fleet_port, laneway_port = free_port(), free_port()
        fleet_url = f"http://127.0.0.1:{fleet_port}"
        cfg = laneway_config(fleet_url, policy, redis_url)
        if api_key:
            cfg["server"] = {"api_keys": [api_key]}
        path = tmp / "laneway.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        # Both start at once (the config needs no answer from the fleet): on a small
        # machine their imports are most of the demo's start-up time.
        services.append(_spawn("fleet", [sys.executable, "-m", "fleet", "--port",
                                         str(fleet_port)], fleet_port, tmp))
        services.append(_spawn("laneway", [
            sys.executable, "-m", "router.cli", "serve", "--config", str(path),
            "--port", str(laneway_port)], laneway_port, tmp))
        deadline = time.monotonic() + READY_S
        _wait_ready(services[0], "/healthz", deadline)
        _wait_ready(services[1], "/readyz", deadline)
        yield services[0], services[1]
    finally:
        for svc in reversed(services):
            svc.stop()


@contextlib.contextmanager
def laneway_on(fleet_url: str, tmp: Path, extra: dict[str, Any]) -> Iterator[Service]:
    """One more laneway on a running fleet, its config the demo's plus `extra` (the
    flywheel phase's experiment), stopped again on exit."""
    port = free_port()
    path = tmp / f"laneway-{port}.yaml"
    path.write_text(yaml.safe_dump(laneway_config(fleet_url) | extra, sort_keys=False))
    svc = _spawn(f"laneway-{port}", [sys.executable, "-m", "router.cli", "serve", "--config",
                                     str(path), "--port", str(port)], port, tmp)
    try:
        _wait_ready(svc, "/readyz", time.monotonic() + READY_S)
        yield svc
    finally:
        svc.stop()
