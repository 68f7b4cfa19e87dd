"""The README's Quickstart in a fresh clone: `make run` starts the fleet and laneway on the
shipped example config, the OpenAI SDK gets an answer through it, Ctrl-C stops both.

The clone reuses the virtualenv running these tests (make's `-o` keeps its install stamp),
so CI installs once; `make run` starts this clone's code all the same (`python -m`).
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from procs import ROOT, free_port, wait_until

from demo.stack import laneway_config
from demo.up import EXAMPLE, banner, example_config


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True, timeout=60).stdout.strip()


def _closed(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def test_make_run_in_a_fresh_clone_answers_the_openai_sdk_and_stops_on_ctrl_c(tmp_path: Path):
    clone = tmp_path / "laneway"
    _git("clone", "-q", "--no-checkout", str(ROOT), str(clone))
    _git("checkout", "-q", _git("rev-parse", "HEAD"), cwd=clone)  # what is committed here
    venv = Path(sys.executable).parent.parent
    stamp = venv / ".installed"
    if not stamp.exists():  # a venv made by hand: the stamp says it is complete
        pytest.fail(f"run `make install` first ({stamp} is missing)")
    port, fleet_port = free_port(), free_port()
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        make = subprocess.Popen(
            ["make", "-C", str(clone), "-o", str(stamp), "run", f"VENV={venv}",
             f"RUN_ARGS=--port {port} --fleet-port {fleet_port}"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    try:
        wait_until(lambda: "laneway is up" in log.read_text(), 90, "make run to be ready")
        text = log.read_text()
        base_url = re.search(r"base URL (\S+)", text).group(1)  # type: ignore[union-attr]
        assert base_url == f"http://127.0.0.1:{port}/v1"
        for model in ("qwen3-coder-1.5b", "qwen3-14b", "qwen3-235b-a22b"):
            assert model in text
        for tool in ("Claude Code", "Codex CLI", "opencode", "Qwen Code", "Continue", "aider",
                     "Tabby", "Cline"):
            assert tool in text

        client = openai.OpenAI(base_url=base_url, api_key="anything", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": "What is a closure?"}])
        assert raw.parse().choices[0].message.content
        assert raw.headers["x-laneway-lane"] == "qa"
    finally:
        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's foreground group
        make.wait(30)
    assert "stopping laneway and the fleet" in log.read_text()
    assert _closed(port) and _closed(fleet_port)  # both servers are gone, not orphaned


def test_example_config_is_the_demos_config_on_the_fleet():
    """The shipped example and the demo's generated config cannot drift apart."""
    shipped = yaml.safe_load(EXAMPLE.read_text())
    assert shipped == laneway_config("http://127.0.0.1:9100")
    cfg = example_config(9911)
    assert {m["api_base"] for m in cfg["models"]} == {"http://127.0.0.1:9911/v1"}
    lanes = {lane for m in cfg["models"] for lane in m["lanes"]}
    assert lanes == {"completion", "qa", "agentic"}  # every lane has a model
    assert "server" not in cfg and "redis" not in cfg  # no keys, no Redis to set up


def test_up_banner_names_every_model_and_its_lanes():
    text = banner("http://127.0.0.1:8080/v1", example_config(9100), "http://127.0.0.1:9100")
    assert "base URL http://127.0.0.1:8080/v1" in text
    assert "qwen3-235b-a22b    large   lanes qa, agentic" in text
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:8080 " in text  # no /v1: Claude Code adds it
