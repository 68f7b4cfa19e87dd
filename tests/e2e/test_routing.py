"""Issue 3 end to end: the policy picks models by lane, learns latency, falls back, explains."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from procs import Proc, fleet_models, start_laneway

FIM = "<|fim_prefix|>def area(r):\n    return <|fim_suffix|>\n\nprint(area(2))\n<|fim_middle|>"


@pytest.fixture(scope="module")
def router(own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("routing")
    # Fast probes and a short first cool-down, so recovery shows within a test's time.
    policy = tmp / "fast-probes.yaml"
    policy.write_text(yaml.safe_dump({
        "completion": {"probe_share": 0.2, "probe_interval_s": 0.05,
                       "cache": {"enabled": False, "ttl_s": 0, "max_temperature": 0}},
        "qa": {"cache": {"enabled": False, "ttl_s": 0, "max_temperature": 0}},
        "breaker": {"failures": 2, "cooldown_s": 30},
    }))
    models = fleet_models(own_fleet.url)
    models[1]["fallbacks"] = ["qwen3-235b-a22b"]
    proc = start_laneway(tmp, {"models": models, "policy": str(policy)})
    yield proc
    proc.stop()


@pytest.fixture
def client(router: Proc) -> openai.OpenAI:
    return openai.OpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)


def complete(client: openai.OpenAI, i: int) -> str:
    """A streamed completion (as editors send them; only streams measure time to first token)."""
    with client.completions.with_streaming_response.create(
        model="auto", prompt=FIM.replace("area", f"area{i}"), max_tokens=16, temperature=0.0,
        stream=True,
    ) as raw:
        raw.read()
        return raw.headers["x-laneway-model"]


def test_lanes_take_their_policy_models(client: openai.OpenAI, fleet_ctl: httpx.Client):
    assert complete(client, 0) == "qwen3-coder-1.5b"  # completion: cheapest within 300 ms
    qa = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is a monad?"}]
    )
    assert qa.headers["x-laneway-model"] == "qwen3-coder-1.5b"  # qa: cheapest
    tools = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]
    ag = client.chat.completions.with_raw_response.create(
        model="auto", tools=tools, messages=[{"role": "user", "content": "List files."}]
    )
    assert ag.headers["x-laneway-model"] == "qwen3-235b-a22b"  # agentic: largest tier


def test_slow_cheapest_model_loses_completions_and_wins_them_back(
    client: openai.OpenAI, fleet_ctl: httpx.Client
):
    fleet_ctl.post("/fleet/faults", json={"model": "qwen3-coder-1.5b", "ttft_ms": 600})
    served = [complete(client, i) for i in range(1, 11)]
    moved_at = served.index("qwen3-14b")  # raises if it never moved
    assert moved_at <= 6, served  # a spike-resistant average needs a few slow samples
    # Once moved, the slow model only sees the occasional probe.
    after = served[moved_at:]
    assert after.count("qwen3-14b") > len(after) / 2, served

    fleet_ctl.delete("/fleet/faults")  # the small model recovers; probes find out
    served = [complete(client, i) for i in range(100, 130)]
    assert served[-10:].count("qwen3-coder-1.5b") >= 8, served


def test_pin_is_respected_and_failing_model_is_skipped(
    client: openai.OpenAI, fleet_ctl: httpx.Client
):
    pinned = client.chat.completions.with_raw_response.create(
        model="qwen3-14b", messages=[{"role": "user", "content": "hello"}]
    )
    assert pinned.headers["x-laneway-model"] == "qwen3-14b"

    fleet_ctl.post("/fleet/faults", json={"model": "qwen3-coder-1.5b", "status": 503})
    models = []
    for i in range(6):
        raw = client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": f"question {i}"}]
        )
        assert raw.parse().choices[0].message.content  # every request still succeeds
        models.append(raw.headers["x-laneway-model"])
    assert set(models) == {"qwen3-14b"}
    # After `failures: 2` the broken model is ejected: later requests don't even try it.
    tried = [r for r in fleet_ctl.get("/fleet/requests").json()["requests"]
             if r["model"] == "qwen3-coder-1.5b" and "x-laneway-probe" not in r["headers"]]
    assert len(tried) == 2


def test_pinned_model_falls_back_only_to_its_fallbacks(
    client: openai.OpenAI, fleet_ctl: httpx.Client
):
    fleet_ctl.post("/fleet/faults", json={"model": "qwen3-14b", "status": 500})
    raw = client.chat.completions.with_raw_response.create(
        model="qwen3-14b", messages=[{"role": "user", "content": "pinned with fallback"}]
    )
    assert raw.headers["x-laneway-model"] == "qwen3-235b-a22b"


def test_explain_makes_no_upstream_call(router: Proc, fleet_ctl: httpx.Client):
    body = {"model": "auto", "prompt": FIM, "max_tokens": 4096, "temperature": 0.01}
    r = httpx.post(router.url + "/laneway/explain",
                   json={"path": "/v1/completions", "body": body})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["lane"] == "completion" and out["reasons"]
    assert out["model"] in {c["model"] for c in out["candidates"]}
    for c in out["candidates"]:
        assert "predicted_ttft_ms" in c and c["predicted_cost_usd"] >= 0
    assert out["tokens"]["before"] >= out["tokens"]["after"] > 0
    assert fleet_ctl.get("/fleet/requests").json()["requests"] == []


def test_explain_cli(router: Proc, tmp_path: Path):
    import subprocess
    import sys

    cfg = next(router.log_path.parent.glob("laneway-*.yaml"))  # type: ignore[union-attr]
    body = tmp_path / "req.json"
    body.write_text('{"model": "auto", "messages": [{"role": "user", "content": "why?"}]}')
    out = subprocess.run(
        [sys.executable, "-m", "router.cli", "explain", str(body), "--config", str(cfg)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert '"lane": "qa"' in out.stdout
