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


def test_sighup_starts_an_experiment_and_keeps_the_feedback_counts(
    fleet: Proc, tmp_path: Path
) -> None:
    models = fleet_models(fleet.url)
    proc = start_laneway(tmp_path, {"models": models})
    body = {"model": "auto", "max_tokens": 8, "user": "reloader",
            "prompt": "<|fim_prefix|>def f(x):\n    return <|fim_suffix|>\n<|fim_middle|>"}

    def shown() -> float:
        text = httpx.get(proc.url + "/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("laneway_completions_shown_total"))

    try:
        first = httpx.post(proc.url + "/v1/completions", json=body, timeout=30)
        assert "x-laneway-experiment" not in first.headers
        wait_until(lambda: shown() == 1, 10, "the first answer counted shown")
        config = next(tmp_path.glob("laneway-*.yaml"))
        experiment = {"name": "cap", "lane": "completion",
                      "arms": [{"name": "short", "max_output_tokens": 4}, {"name": "long"}]}
        config.write_text(yaml.safe_dump({"models": models, "experiments": [experiment]}))
        proc.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "x-laneway-experiment" in httpx.post(
            proc.url + "/v1/completions", json=body | {"temperature": 1.0}, timeout=30).headers,
            10, "the experiment after the reload")
        report = httpx.get(proc.url + "/laneway/experiments", timeout=10).json()
        assert [e["name"] for e in report["experiments"]] == ["cap"]
        # the answer before the reload is still known: its select counts
        select = {"type": "select", "completion_id": first.json()["id"]}
        assert httpx.post(proc.url + "/v1/events", json=select, timeout=10).status_code == 200
        wait_until(lambda: "\nlaneway_completions_accepted_total{" in httpx.get(
            proc.url + "/metrics", timeout=10).text, 10, "the select counted")
    finally:
        proc.stop()
