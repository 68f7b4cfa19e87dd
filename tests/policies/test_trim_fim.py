"""Completion lane trimming: FIM budgets, family translation, stops, output caps, scope."""

from __future__ import annotations

import copy
import time

import pytest

from policies import fim, tokens
from policies.trim import TrimBudget, trim_completion

BUDGET = TrimBudget(4096, max_output_tokens=256)


@pytest.fixture(autouse=True, scope="module")
def _encoding_loaded() -> None:
    tokens.warm()  # once per process in the proxy (at startup); keep it out of timings


def code(lines: int, tag: str = "f") -> str:
    """Deterministic Python-ish source, ~50 chars a line."""
    out = []
    for i in range(lines):
        if i % 6 == 0:
            out.append(f"def {tag}_{i}(items, limit={i % 97}):")
        elif i % 6 == 5:
            out.append("")
        else:
            out.append(f"    total_{i} = sum(x * {i} for x in items if x < limit)  # step {i}")
    return "\n".join(out) + "\n"


def big_fim(size: int = 400_000) -> tuple[str, str, str]:
    text = code(size // 50)
    cut = text.find("\n", int(len(text) * 0.7)) + 1
    prefix = text[:cut] + "    result = compute("
    suffix = ")\n" + text[cut:]
    return prefix, suffix, f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"


def rendered_count(body: dict[str, object]) -> int:
    prompt = body["prompt"]
    suffix = body.get("suffix") or ""
    assert isinstance(prompt, str) and isinstance(suffix, str)
    return tokens.count(prompt) + tokens.count(suffix)


def test_400kb_prompt_is_trimmed_within_budget_at_line_boundaries() -> None:
    prefix, suffix, prompt = big_fim()
    assert len(prompt) > 400_000
    body = {"model": "auto", "prompt": prompt, "max_tokens": 4096, "stream": True,
            "stop": ["<|endoftext|>", "<|fim_pad|>"], "temperature": 0.01}
    original = copy.deepcopy(body)
    started = time.perf_counter()
    result = trim_completion("completions", body, BUDGET, None)
    elapsed = time.perf_counter() - started
    assert body == original  # never mutated
    out = result.body["prompt"]
    assert rendered_count(result.body) <= 4096
    assert result.tokens_after <= 4096
    assert rendered_count(result.body) <= result.tokens_after <= rendered_count(result.body) + 16
    assert result.tokens_before > 90_000 and result.trimmed_tokens > 85_000
    for marker in ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"):
        assert out.count(marker) == 1
    parsed = fim.parse(out)
    assert parsed is not None and parsed.family == "qwen"
    assert prefix.endswith(parsed.prefix) and suffix.startswith(parsed.suffix)
    assert prefix[len(prefix) - len(parsed.prefix) - 1] == "\n"  # starts at a line start
    assert parsed.suffix.endswith("\n")  # ends at a line end
    assert parsed.prefix.endswith("\n".join(prefix.split("\n")[-40:]))  # near lines intact
    assert parsed.suffix.startswith("\n".join(suffix.split("\n")[:15]))
    prefix_tokens = tokens.count(parsed.prefix)
    assert 0.6 < prefix_tokens / result.tokens_after < 0.85  # ~75/25
    assert result.body["max_tokens"] == 64 and result.scope == "line"
    assert result.body["stop"] == ["<|endoftext|>", "<|fim_pad|>", "\n"]
    assert elapsed < 0.25  # a few ms measured (loadtests/bench/trim.py); generous for CI


def test_small_prompt_untouched_except_output_cap() -> None:
    prompt = "<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>"
    result = trim_completion("completions", {"prompt": prompt}, BUDGET, None)
    assert result.body["prompt"] == prompt
    # Obviously within budget: not counted, reported at a ceiling never below the truth.
    assert result.tokens_before == result.tokens_after >= tokens.count(prompt)
    assert result.tokens_after <= len(prompt.encode())
    assert result.trimmed_tokens == 0
    exact = trim_completion("completions", {"prompt": prompt}, BUDGET, None, exact=True)
    assert exact.body == result.body
    assert exact.tokens_before == exact.tokens_after == tokens.count(prompt)
    assert result.scope == "block" and result.body["max_tokens"] == 256
    assert "stop" not in result.body


def test_other_files_go_first_farthest_first() -> None:
    files = "".join(f"<|file_sep|>lib/m{i}.py\n{code(60, f'm{i}')}" for i in range(4))
    prefix, suffix = code(40) + "x = ", "\n" + code(10, "g")
    prompt = (f"<|repo_name|>acme\n{files}<|file_sep|>main.py\n"
              f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>")
    total = tokens.count(prompt)
    one_file = tokens.count(f"<|file_sep|>lib/m0.py\n{code(60, 'm0')}")
    budget = TrimBudget(total - one_file + 40, max_output_tokens=256)  # 3 files, not 4
    result = trim_completion("completions", {"prompt": prompt}, budget, None)
    parsed = fim.parse(result.body["prompt"])
    assert parsed is not None
    assert (parsed.prefix, parsed.suffix) == (prefix, suffix)  # untouched
    assert [c.path for c in parsed.context] == ["lib/m1.py", "lib/m2.py", "lib/m3.py"]
    assert result.body["prompt"].startswith("<|repo_name|>acme\n<|file_sep|>lib/m1.py\n")
    # Tighter: every file goes before a single line of prefix or suffix does.
    no_files = prompt.replace(files, "")
    budget = TrimBudget(tokens.count(no_files) + 30)
    result = trim_completion("completions", {"prompt": prompt}, budget, None)
    parsed = fim.parse(result.body["prompt"])
    assert parsed is not None and parsed.context == ()
    assert (parsed.prefix, parsed.suffix) == (prefix, suffix)
    assert parsed.repo == "acme" and parsed.path == "main.py"


def test_short_suffix_gives_its_share_to_the_prefix() -> None:
    prefix = code(2000)
    suffix = "\n    return total\n"
    result = trim_completion("completions", {"prompt": prefix, "suffix": suffix},
                             TrimBudget(1000), None)
    assert result.body["suffix"] == suffix
    assert 950 <= rendered_count(result.body) <= 1000


def test_cross_family_qwen_in_deepseek_out() -> None:
    prefix, suffix, prompt = big_fim(60_000)
    body = {"prompt": prompt, "stop": ["<|endoftext|>", "<|file_sep|>", "\n\n"]}
    result = trim_completion("completions", body, BUDGET, "deepseek")
    out = result.body["prompt"]
    assert out.startswith("<｜fim▁begin｜>") and out.endswith("<｜fim▁end｜>")
    assert "<|fim_prefix|>" not in out
    parsed = fim.parse(out)
    assert parsed is not None and parsed.family == "deepseek"
    assert prefix.endswith(parsed.prefix) and suffix.startswith(parsed.suffix)
    assert rendered_count(result.body) <= 4096
    # The client's template stops mean nothing to DeepSeek; its own "\n\n" is subsumed
    # by the line scope's "\n".
    assert result.body["stop"] == ["\n", *fim.stop_markers("deepseek")]


def test_tabby_prompt_and_suffix_to_a_marker_family_and_back() -> None:
    body = {"prompt": "# util.py\nimport os\ndef f():\n    ", "suffix": "\n\nf()\n",
            "max_tokens": 64}
    result = trim_completion("completions", body, BUDGET, "qwen")
    assert "suffix" not in result.body
    assert result.body["prompt"] == ("<|fim_prefix|># util.py\nimport os\ndef f():\n    "
                                     "<|fim_suffix|>\n\nf()\n<|fim_middle|>")
    back = trim_completion("completions", {"prompt": result.body["prompt"]}, BUDGET, "suffix")
    assert (back.body["prompt"], back.body["suffix"]) == (body["prompt"], body["suffix"])


def test_scope_switch_and_caps() -> None:
    body = {"prompt": "<fim_prefix>x = foo(<fim_suffix>)\n<fim_middle>", "max_tokens": 30,
            "max_completion_tokens": 500}
    line = trim_completion("completions", body, BUDGET, None)
    assert line.scope == "line" and line.body["stop"] == ["\n"]
    assert line.body["max_tokens"] == 30 and line.body["max_completion_tokens"] == 64
    off = trim_completion("completions", body, TrimBudget(4096, max_output_tokens=256,
                                                          scope=False), None)
    assert off.scope == "block" and "stop" not in off.body
    assert off.body["max_completion_tokens"] == 256
    uncapped = trim_completion("completions", {"prompt": "<fim_prefix>def f():\n    "
                                               "<fim_suffix><fim_middle>"},
                               TrimBudget(4096), None)
    assert uncapped.scope == "block" and "max_tokens" not in uncapped.body


@pytest.mark.parametrize(("stop", "expected"), [
    (None, ["\n"]),
    ("</s>", ["</s>", "\n"]),
    (["a", "b", "c"], ["a", "b", "c", "\n"]),
    (["a", "b", "c", "d"], ["a", "b", "c", "d"]),  # OpenAI's limit: the client's stops win
    (["a", "b\n", "c", "d"], ["a", "c", "d", "\n"]),  # "b\n" can never outlive "\n"
    ([str(i) for i in range(6)], [str(i) for i in range(6)] + ["\n"]),  # server takes more
])
def test_line_stop_merge(stop: object, expected: list[str]) -> None:
    body = {"prompt": "x = foo(", "suffix": ")\n", "stop": stop}
    result = trim_completion("completions", body, BUDGET, None)
    assert result.scope == "line"
    assert result.body["stop"] == expected


def test_plain_prompt_keeps_its_end() -> None:
    text = code(5000)
    result = trim_completion("completions", {"prompt": text}, TrimBudget(500), None)
    out = result.body["prompt"]
    assert text.endswith(out) and text[len(text) - len(out) - 1] == "\n"
    assert 450 <= tokens.count(out) <= 500
    assert result.fim is None and "suffix" not in result.body


def test_minified_cursor_line_is_cut_nearest_the_cursor() -> None:
    line = "var a=" + ",".join(f"f{i}(x)" for i in range(40_000))
    prompt = f"<|fim_prefix|>{line}<|fim_suffix|>;g();h();<|fim_middle|>"
    result = trim_completion("completions", {"prompt": prompt}, TrimBudget(300), None)
    parsed = fim.parse(result.body["prompt"])
    assert parsed is not None and line.endswith(parsed.prefix)
    assert parsed.suffix == ";g();h();"
    assert rendered_count(result.body) <= 300
    assert tokens.count(parsed.prefix) > 250


def test_token_arrays_are_passed_through() -> None:
    body = {"prompt": [[1, 2, 3]], "max_tokens": 4000}
    result = trim_completion("completions", body, BUDGET, "qwen")
    assert result.body["prompt"] == [[1, 2, 3]] and result.body["max_tokens"] == 256


HOLE_FILLER = ("You are a HOLE FILLER. You are provided with a file containing holes, "
               "formatted as '{{FILL_HERE}}'. Answer only with the code that fills the hole.")


def test_completion_over_chat_trims_the_code_around_the_hole() -> None:
    before, after = code(3000), "\n" + code(1000, "g")
    user = (f"<QUERY>\n{before}    x = {{{{FILL_HERE}}}}\n{after}</QUERY>\n"
            "TASK: Fill the {{FILL_HERE}} hole. Answer only with the CORRECT completion.\n"
            "<COMPLETION>")
    body = {"messages": [{"role": "system", "content": HOLE_FILLER},
                         {"role": "user", "content": user}],
            "temperature": 0, "max_tokens": 1000, "stop": ["</COMPLETION>"]}
    original = copy.deepcopy(body)
    result = trim_completion("chat", body, TrimBudget(2000, max_output_tokens=256), None)
    assert body == original
    messages = result.body["messages"]
    assert messages[0] == body["messages"][0]
    text = messages[1]["content"]
    assert text.startswith("<QUERY>\n") and text.endswith(
        "</QUERY>\nTASK: Fill the {{FILL_HERE}} hole. Answer only with the CORRECT "
        "completion.\n<COMPLETION>")
    assert "    x = {{FILL_HERE}}\n" in text
    total = sum(tokens.count(m["content"]) + 4 for m in messages)
    assert total <= 2000
    assert result.tokens_after <= 2000 < result.tokens_before
    assert result.scope == "line"
    assert result.body["stop"] == ["</COMPLETION>", "\n"] and result.body["max_tokens"] == 64


def test_completion_over_chat_with_parts_and_no_hole() -> None:
    parts = [{"type": "text", "text": "def f():\n    <CURSOR>\n"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]
    body = {"messages": [{"role": "user", "content": parts}]}
    result = trim_completion("chat", body, BUDGET, None)
    assert result.body["messages"][0]["content"][0]["text"] == parts[0]["text"]
    assert result.scope == "block" and result.body["max_tokens"] == 256
    plain = trim_completion("chat", {"messages": [{"role": "user", "content": "hi"}]},
                            BUDGET, None)
    assert plain.scope == "block" and plain.body["messages"][0]["content"] == "hi"
