"""Legacy completions: suffix, FIM markers, stop, defaults, prompt lists, streaming."""

from __future__ import annotations

import aiohttp
import openai
import orjson
import pytest
from fleet_testkit import sse_lines
from openai.types import Completion

from fleet.answers import cursor_indent, split_fim
from fleet.profiles import FleetSettings, ModelProfile
from fleet.server import FleetServer, start

PREFIX = "def mean(values):\n    total = sum(values)\n    "
QWEN_FIM = f"<|fim_prefix|>{PREFIX}<|fim_suffix|>\n\nprint(mean([1]))<|fim_middle|>"


async def test_completion_with_suffix_is_code(oai: openai.AsyncOpenAI) -> None:
    answer = await oai.completions.create(
        model="qwen3-coder-1.5b", prompt=PREFIX, suffix="\n\nprint(mean([1]))", max_tokens=64
    )
    text = answer.choices[0].text
    lines = text.split("\n")
    assert len(lines) >= 2
    # Later lines follow the cursor's indentation; the first continues the cursor line.
    assert not lines[0].startswith(" ")
    assert all(line.startswith("    ") for line in lines[1:])
    assert answer.usage is not None
    assert answer.usage.completion_tokens == len(text.split())


async def test_default_max_tokens_is_16_like_openai(oai: openai.AsyncOpenAI) -> None:
    lengths = set()
    for i in range(12):
        answer = await oai.completions.create(model="m", prompt=f"x{i} = ")
        assert answer.usage is not None and answer.usage.completion_tokens <= 16
        lengths.add(answer.choices[0].finish_reason)
    assert lengths == {"stop", "length"}  # some natural answers are longer than 16


async def test_newline_stop_gives_one_line(oai: openai.AsyncOpenAI) -> None:
    full = await oai.completions.create(model="m", prompt=QWEN_FIM, max_tokens=64)
    one = await oai.completions.create(model="m", prompt=QWEN_FIM, max_tokens=64, stop=["\n"])
    assert "\n" in full.choices[0].text
    assert one.choices[0].text == full.choices[0].text.split("\n")[0]
    assert one.choices[0].finish_reason == "stop"


async def test_prompt_list_gives_one_choice_each(oai: openai.AsyncOpenAI) -> None:
    answer = await oai.completions.create(model="m", prompt=["a = ", "b = ", "a = "])
    texts = [c.text for c in sorted(answer.choices, key=lambda c: c.index)]
    assert len(texts) == 3 and texts[0] != texts[1]


async def test_completion_stream_chunks(fleet: FleetServer, http: aiohttp.ClientSession) -> None:
    body = {"model": "m", "prompt": QWEN_FIM, "max_tokens": 20, "temperature": 0.01}
    async with http.post(f"{fleet.url}/completions", json=body) as resp:
        whole = Completion.model_validate(await resp.json())
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    async with http.post(f"{fleet.root}/completions", json=body) as resp:  # no /v1 prefix
        lines = await sse_lines(resp)
    assert lines[-1] == "data: [DONE]"
    # Stream chunks carry finish_reason null until the last one, so no strict model here.
    chunks = [orjson.loads(x[6:]) for x in lines[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-2])
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == whole.choices[0].text
    assert chunks[-2]["choices"][0]["finish_reason"] == whole.choices[0].finish_reason
    assert chunks[-1]["choices"] == [] and whole.usage is not None
    assert chunks[-1]["usage"]["completion_tokens"] == whole.usage.completion_tokens
    log = (await (await http.get(f"{fleet.root}/fleet/requests")).json())["requests"]
    assert [e["fim"] for e in log] == ["qwen", "qwen"]
    assert [e["path"] for e in log] == ["/v1/completions", "/completions"]


async def test_strict_fim_profile_rejects_other_families(http: aiohttp.ClientSession) -> None:
    settings = FleetSettings(
        profiles={"coder": ModelProfile(name="coder", fim="qwen")}, zero_latency=True
    )
    starcoder = "<fim_prefix>x = <fim_suffix>\n<fim_middle>"
    async with await start(settings) as fleet:
        for body, status in [
            ({"model": "coder", "prompt": QWEN_FIM}, 200),
            ({"model": "coder", "prompt": "plain prefix"}, 200),
            ({"model": "coder", "prompt": starcoder}, 400),
            ({"model": "coder", "prompt": "x = ", "suffix": "\n"}, 400),
            ({"model": "other", "prompt": starcoder}, 200),
        ]:
            async with http.post(f"{fleet.url}/completions", json=body) as resp:
                assert resp.status == status, body
                if status == 400:
                    assert (await resp.json())["error"]["code"] == "unsupported_fim"


async def test_context_window_is_enforced(http: aiohttp.ClientSession) -> None:
    settings = FleetSettings(profiles={"tiny": ModelProfile(name="tiny", context_window=100)})
    async with await start(settings) as fleet:
        body = {"model": "tiny", "prompt": "x" * 400, "max_tokens": 10}
        async with http.post(f"{fleet.url}/completions", json=body) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "context_length_exceeded"
        body["prompt"] = "x" * 300
        async with http.post(f"{fleet.url}/completions", json=body) as resp:
            assert resp.status == 200


@pytest.mark.parametrize(("prompt", "family"), [
    ("<|repo_name|>r\n<|file_sep|>a.py\n<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>", "qwen"),
    ("<fim_prefix>P<fim_suffix>S<fim_middle>", "starcoder"),
    ("<PRE> P <SUF>S <MID>", "codellama"),
    ("<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>", "deepseek"),
    ("[SUFFIX]S[PREFIX]P", "codestral"),
])
def test_split_fim_families(prompt: str, family: str) -> None:
    assert split_fim(prompt) == (family, "P", "S")


def test_plain_prompts_are_not_fim() -> None:
    assert split_fim("def f(x):\n    return x  # <PRE> is not enough") is None
    assert cursor_indent("class A:\n    def f(self):\n        ") == "        "
