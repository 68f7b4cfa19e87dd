"""Latency is learned from non-streamed answers too, apart from first tokens: a model slow to
finish is avoided for clients that wait for the whole answer, and kept for those that stream
(issue 19)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from procs import Proc, fleet_models, start_laneway

FIM = "<|fim_prefix|>def area{i}(r):\n    return <|fim_suffix|>\n\nprint(area(2))\n<|fim_middle|>"


@pytest.fixture(scope="module")
def router(own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("whole")
    with start_laneway(tmp, {"models": fleet_models(own_fleet.url)}) as proc:
        yield proc


def complete(client: openai.OpenAI, i: int, stream: bool) -> str:
    with client.completions.with_streaming_response.create(
        model="auto", prompt=FIM.format(i=i), max_tokens=16, temperature=0.9, stream=stream,
    ) as raw:
        raw.read()
        return raw.headers["x-laneway-model"]


def test_slow_to_finish_is_avoided_for_non_streamed_requests_only(
    router: Proc, fleet_ctl: httpx.Client
):
    client = openai.OpenAI(base_url=router.url + "/v1", api_key="x", max_retries=0)
    # The small model answers its first token at once but generates at 10 tokens/s.
    fleet_ctl.post("/fleet/faults", json={"model": "qwen3-coder-1.5b", "tokens_per_s": 10})
    assert complete(client, 0, stream=False) == "qwen3-coder-1.5b"  # nothing known yet
    later = [complete(client, i, stream=False) for i in range(1, 4)]
    assert set(later) == {"qwen3-14b"}  # its whole answer took far over the 300 ms target
    # A streaming client waits for the first token only: the small model is still right.
    assert {complete(client, i, stream=True) for i in range(4, 7)} == {"qwen3-coder-1.5b"}
    explained = httpx.post(router.url + "/laneway/explain", json={
        "path": "/v1/completions",
        "body": {"model": "auto", "prompt": FIM.format(i=9), "max_tokens": 16}}).json()
    small = next(c for c in explained["candidates"] if c["model"] == "qwen3-coder-1.5b")
    assert any(r.startswith("whole answer") for r in small["reasons"])
