"""SIGHUP reloads the config file: a good edit takes effect for new requests, a bad one is
logged and the running config keeps serving."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import yaml
from procs import Proc, fleet_models, start_laneway, wait_until


def model_ids(proc: Proc) -> list[str]:
    return [m["id"] for m in httpx.get(proc.url + "/v1/models", timeout=10).json()["data"]]


def chat_model(proc: Proc) -> str:
    r = httpx.post(proc.url + "/v1/chat/completions", timeout=30, json={
        "model": "auto", "messages": [{"role": "user", "content": "What is a monad?"}],
        "temperature": 1.0,
    })
    assert r.status_code == 200, r.text
    return r.headers["x-laneway-model"]


def test_sighup_applies_a_good_edit_and_survives_a_bad_one(fleet: Proc, tmp_path: Path) -> None:
    models = fleet_models(fleet.url)
    proc = start_laneway(tmp_path, {"models": models})
    try:
        config = next(tmp_path.glob("laneway-*.yaml"))
        assert chat_model(proc) == "qwen3-coder-1.5b"  # qa: the cheapest
        # Good edit: the small model leaves the fleet.
        config.write_text(yaml.safe_dump({"models": models[1:]}))
        proc.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "qwen3-coder-1.5b" not in model_ids(proc), 10, "the reload")
        assert chat_model(proc) == "qwen3-14b"
        # Bad edit: an unknown key. laneway keeps serving with what it had.
        config.write_text(yaml.safe_dump({"models": models, "no_such_key": 1}))
        proc.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in proc.log_path.read_text(), 10, "the error")
        assert model_ids(proc) == ["auto", "qwen3-14b", "qwen3-235b-a22b"]
        assert chat_model(proc) == "qwen3-14b"
    finally:
        proc.stop()
