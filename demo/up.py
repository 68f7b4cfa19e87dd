"""`laneway up` (`make run`): the simulated fleet and laneway on the example config, in the
foreground until Ctrl-C, with what to paste into each tool printed once both are ready.

The config is laneway.example.yaml from the checkout (the fleet's three models, every lane
covered, no keys, no Redis), its fleet address moved to --fleet-port. Both servers run in
sessions of their own, so Ctrl-C reaches only this process, which then stops them in order
(laneway first, so that nothing in flight meets a vanished upstream) with SIGTERM: each
finishes what it is doing and exits cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from demo.tools import tool_lines

EXAMPLE = Path(__file__).resolve().parents[1] / "laneway.example.yaml"
EXAMPLE_FLEET = "http://127.0.0.1:9100"  # where the example config expects the fleet
READY_S = 60.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="laneway's address (0.0.0.0: reachable from other machines)")
    p.add_argument("--port", type=int, default=8080, help="laneway's port")
    p.add_argument("--fleet-port", type=int, default=9100,
                   help="the simulated fleet's port (on 127.0.0.1)")
    p.add_argument("--access-log", action="store_true",
                   help="print laneway's JSON line per request (off: the tool lines stay "
                        "readable)")


def example_config(fleet_port: int) -> dict[str, Any]:
    """The shipped example, its models pointed at the fleet on `fleet_port`."""
    cfg: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    fleet = f"http://127.0.0.1:{fleet_port}"
    for m in cfg["models"]:
        m["api_base"] = m["api_base"].replace(EXAMPLE_FLEET, fleet)
    return cfg


class _Child:
    def __init__(self, name: str, args: list[str], log: Path | None) -> None:
        self.name, self.log = name, log
        out = open(log, "wb") if log else None  # noqa: SIM115 (the child keeps its copy)
        try:
            # A session of its own: a terminal's Ctrl-C goes to `up` alone, which stops it.
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT if out else None,
                                         start_new_session=True)
        finally:
            if out:
                out.close()

    def tail(self) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _ready(child: _Child, url: str, deadline: float) -> None:
    # Bounded polling: a server says nothing else when it starts answering.
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}"
                               + (f":\n{child.tail()}" if child.tail() else ""))
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{child.name} was not ready within {READY_S:.0f} s\n{child.tail()}")


def banner(base_url: str, cfg: dict[str, Any], fleet_url: str) -> str:
    models = cfg["models"]
    small = min(models, key=lambda m: m["price_per_mtok"]["input"])["name"]
    out = [
        "",
        f"laneway is up: base URL {base_url}   (simulated fleet on {fleet_url})",
        "models (pin one by name, or model \"auto\" to let laneway route):",
        *(f"  {m['name']:<18} {m['tier']:<7} lanes {', '.join(m['lanes'])}" for m in models),
        "lanes: completion (FIM, typing), qa (questions, chats without tools), "
        "agentic (tools, agent loops)",
        "",
        "point your tools at it (any API key; full snippets: README, 'Use it with your tools'):",
        *(f"  {tool + ':':<18}{line}" for tool, line in tool_lines(base_url, small)),
        "",
        f"why a request went where it did: curl -s {base_url.removesuffix('/v1')}"
        "/laneway/explain -d '{\"path\": \"/v1/chat/completions\", \"body\": {\"model\": "
        "\"auto\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}}'",
        "Ctrl-C stops laneway and the fleet.",
    ]
    return "\n".join(out)


def main(args: argparse.Namespace) -> int:
    cfg = example_config(args.fleet_port)
    fleet_url = f"http://127.0.0.1:{args.fleet_port}"
    shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base_url = f"http://{shown_host}:{args.port}/v1"

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM (a supervisor, `kill`) stops like Ctrl-C

    signal.signal(signal.SIGTERM, on_term)
    children: list[_Child] = []
    with tempfile.TemporaryDirectory(prefix="laneway-up-") as tmp:
        path = Path(tmp) / "laneway.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        try:
            children.append(_Child("fleet", [sys.executable, "-m", "fleet", "--host",
                                             "127.0.0.1", "--port", str(args.fleet_port)],
                                   Path(tmp) / "fleet.log"))
            serve = [sys.executable, "-m", "router.cli", "serve", "--config", str(path),
                     "--host", args.host, "--port", str(args.port)]
            if not args.access_log:
                serve.append("--no-access-log")
            children.append(_Child("laneway", serve, None))  # its ready line and errors show
            deadline = time.monotonic() + READY_S
            _ready(children[0], fleet_url + "/healthz", deadline)
            _ready(children[1], f"http://{shown_host}:{args.port}/readyz", deadline)
            print(banner(base_url, cfg, fleet_url), flush=True)
            pid, status = os.wait()  # until one of them ends (it should not) or Ctrl-C
            gone = next((c for c in children if c.proc.pid == pid), None)
            name = gone.name if gone else f"process {pid}"
            print(f"laneway up: {name} exited with {os.waitstatus_to_exitcode(status)}"
                  + (f":\n{gone.tail()}" if gone and gone.tail() else ""), file=sys.stderr)
            return 1
        except RuntimeError as exc:
            print(f"laneway up: {exc}\n(a port in use? `laneway up --port N --fleet-port M`, "
                  f"or `make run RUN_ARGS=\"--port N\"`)", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nlaneway up: stopping laneway and the fleet", flush=True)
            return 0
        finally:
            for child in reversed(children):
                with contextlib.suppress(ChildProcessError):
                    child.stop()
