"""litellm stays out of the process unless a configured model needs it; when one does, the
request goes through litellm and still comes back in the OpenAI shape."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from procs import ROOT, Proc, start_laneway

NO_LITELLM = """
import asyncio, sys
import aiohttp
from router.config import parse
from router.observe.metrics import Metrics
from router.runtime import Runtime
from router.http.app import create_app

async def main():
    cfg = parse({"models": [{"name": "m", "api_base": "http://127.0.0.1:9/v1"}]})
    create_app(cfg)
    async with aiohttp.ClientSession() as s:
        Runtime.build(cfg, Metrics(), s)
asyncio.run(main())
print("litellm" in sys.modules)
"""


def test_openai_compatible_config_never_imports_litellm():
    out = subprocess.run([sys.executable, "-c", NO_LITELLM], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def via_litellm(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("litellm")
    # hosted_vllm is litellm's own client for an OpenAI-compatible server: the fleet.
    models = [{"name": "via-litellm", "api_base": fleet.url + "/v1", "provider": "hosted_vllm",
               "upstream_model": "qwen3-14b", "tier": "medium"}]
    proc = start_laneway(tmp, {"models": models})
    yield proc
    proc.stop()


def test_chat_through_litellm(via_litellm: Proc):
    client = openai.OpenAI(base_url=via_litellm.url + "/v1", api_key="x", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is a coroutine?"}]
    )
    assert raw.headers["x-laneway-model"] == "via-litellm"
    assert raw.parse().choices[0].message.content

    stream = client.chat.completions.create(
        model="via-litellm", messages=[{"role": "user", "content": "And a generator?"}],
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
