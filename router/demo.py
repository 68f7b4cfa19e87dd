"""`laneway demo`: the simulated fleet, laneway in front of it, one request per lane."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(url: str, proc: subprocess.Popen[bytes], deadline_s: float = 20.0) -> None:
    import httpx

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"demo: a process exited early ({proc.args!r})")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"demo: {url} did not become ready")


def demo_config(fleet_url: str) -> dict[str, object]:
    base = fleet_url + "/v1"
    return {
        "models": [
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
    }


def main(args: argparse.Namespace) -> int:
    import openai
    from rich.console import Console
    from rich.table import Table

    console = Console()
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="laneway-demo-") as tmp:
        try:
            fport, lport = _free_port(), _free_port()
            env = {**os.environ}
            procs.append(subprocess.Popen([sys.executable, "-m", "fleet", "--port", str(fport)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            _wait(f"http://127.0.0.1:{fport}/healthz", procs[-1])
            cfg = Path(tmp) / "laneway.yaml"
            cfg.write_text(yaml.safe_dump(demo_config(f"http://127.0.0.1:{fport}")))
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "router.cli", "serve", "--config", str(cfg),
                 "--port", str(lport)], env=env))
            _wait(f"http://127.0.0.1:{lport}/readyz", procs[-1])
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{lport}/v1", api_key="demo",
                                   max_retries=0)
            table = Table(title="laneway demo: one request per lane")
            for col in ("request", "lane", "model", "cache", "answer"):
                table.add_column(col)
            fim = client.completions.with_raw_response.create(
                model="auto", max_tokens=32, temperature=0.01,
                prompt="<|fim_prefix|>def mean(xs):\n    <|fim_suffix|>\n<|fim_middle|>")
            table.add_row("FIM completion", fim.headers["x-laneway-lane"],
                          fim.headers["x-laneway-model"], fim.headers["x-laneway-cache"],
                          repr(fim.parse().choices[0].text[:40]))
            qa = client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "What is a Python GIL?"}])
            table.add_row("question", qa.headers["x-laneway-lane"], qa.headers["x-laneway-model"],
                          qa.headers["x-laneway-cache"],
                          repr((qa.parse().choices[0].message.content or "")[:40]))
            tools: list[Any] = [{"type": "function", "function": {
                "name": "run_tests", "parameters": {"type": "object", "properties": {}}}}]
            ag = client.chat.completions.with_raw_response.create(
                model="auto", tools=tools,
                messages=[{"role": "user", "content": "Fix the failing test."}])
            calls: list[Any] = list(ag.parse().choices[0].message.tool_calls or ())
            table.add_row("agent step", ag.headers["x-laneway-lane"], ag.headers["x-laneway-model"],
                          ag.headers["x-laneway-cache"],
                          f"tool call: {calls[0].function.name}" if calls else "text")
            console.print(table)
        finally:
            for p in reversed(procs):
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    return 0
