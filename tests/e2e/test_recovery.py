"""An ejected model is probed beside the traffic and used again within seconds of its return."""

import itertools
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
import openai
import pytest
import yaml
from procs import Proc, fleet_models, free_port, start_laneway, wait_until

from policies.catalog import ModelSpec, Tier
from router.upstreams.probe import probe

TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def router(own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("recovery")
    # A minute's cool-down: without probes the model would stay out far longer than 5 s.
    policy = tmp / "slow-cooldown.yaml"
    policy.write_text(yaml.safe_dump({"breaker": {"failures": 2, "cooldown_s": 60}}))
    with start_laneway(tmp, {"models": fleet_models(own_fleet.url), "policy": str(policy)}) as p:
        yield p


def agent_step(client: openai.OpenAI, i: int) -> str:
    raw = client.chat.completions.with_raw_response.create(
        model="auto", tools=TOOLS, messages=[{"role": "user", "content": f"List files {i}."}])
    assert raw.parse().choices[0].message is not None  # every step is answered
    return raw.headers["x-laneway-model"]


def test_model_back_after_an_outage_is_used_again_within_5_s(
    router: Proc, fleet_ctl: httpx.Client
):
    client = openai.OpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
    assert agent_step(client, 0) == "qwen3-235b-a22b"  # the agentic lane's largest tier

    fleet_ctl.post("/fleet/faults", json={"model": "qwen3-235b-a22b", "status": 503})
    # The outage: agent steps fall back to the medium model, the large one is ejected.
    assert [agent_step(client, i) for i in range(1, 5)] == ["qwen3-14b"] * 4
    ready = httpx.get(router.url + "/readyz").json()
    assert ready["models"]["qwen3-235b-a22b"] == "ejected" and ready["status"] == "degraded"

    fleet_ctl.delete("/fleet/faults")  # the model is back
    # Each poll a new conversation: one that began on the fallback stays there (affinity).
    steps = itertools.count(100)
    wait_until(lambda: agent_step(client, next(steps)) == "qwen3-235b-a22b", 5,
               "new agent conversations to use the large model again")
    assert httpx.get(router.url + "/readyz").json()["models"]["qwen3-235b-a22b"] == "up"
    probes = [r for r in fleet_ctl.get("/fleet/requests").json()["requests"]
              if "x-laneway-probe" in r["headers"]]
    assert probes and {r["model"] for r in probes} == {"qwen3-235b-a22b"}
    assert all(r["body"]["max_tokens"] == 1 for r in probes)  # a cheap request


def test_readyz_reports_models_and_redis_and_no_file_path(router: Proc):
    body = httpx.get(router.url + "/readyz").json()
    assert set(body["models"]) == {"qwen3-coder-1.5b", "qwen3-14b", "qwen3-235b-a22b"}
    assert body["redis"] == "disabled" and body["policy"]
    assert "/" not in httpx.get(router.url + "/readyz").text.replace("/readyz", "")


def test_serve_logs_one_ready_line(router: Proc):
    lines = [ln for ln in router.log().splitlines() if ln.startswith("laneway ready on")]
    assert len(lines) == 1, router.log()
    line = lines[0]
    assert router.url + "/v1" in line
    for part in ("qwen3-coder-1.5b (small)", "agentic -> qwen3-14b | qwen3-235b-a22b",
                 "cache in-process (no Redis)", "policy "):
        assert part in line, line


@pytest.mark.parametrize(("fault", "back"), [
    ({}, True),
    ({"status": 400}, True),  # an answer: the server is up (a base model refusing chat)
    ({"status": 503}, False),
    ({"rate_limit": True}, False),  # 429: still out, as the breaker counts it
])
async def test_probe_counts_an_answer_that_is_not_a_fault(
    own_fleet: Proc, fleet_ctl: httpx.Client, fault: dict[str, object], back: bool
):
    if fault:
        fleet_ctl.post("/fleet/faults", json={"model": "qwen3-14b", **fault}).raise_for_status()
    model = ModelSpec("qwen3-14b", own_fleet.url + "/v1", "openai", "qwen3-14b", Tier.MEDIUM,
                      frozenset({"qa"}), 32768, 0, 0, None)
    async with aiohttp.ClientSession() as session:
        assert await probe(session, model) is back


async def test_probe_of_a_server_that_is_gone_fails():
    model = ModelSpec("m", f"http://127.0.0.1:{free_port()}/v1", "openai", "m", Tier.SMALL,
                      frozenset({"qa"}), 32768, 0, 0, None)
    async with aiohttp.ClientSession() as session:
        assert await probe(session, model) is False
