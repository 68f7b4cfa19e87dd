"""Token counting: exact from the bundled encoding, cheap estimates, bounded counting."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from policies import tokens

ROOT = Path(__file__).resolve().parents[2]

SAMPLES = {
    "python": "def fib(n: int) -> int:\n    if n < 2:\n        return n\n"
              "    return fib(n - 1) + fib(n - 2)\n" * 20,
    "typescript": "export async function load(url: string): Promise<Response> {\n"
                  "  const res = await fetch(url, { method: 'GET' });\n  return res;\n}\n" * 20,
    "go": "func (s *Server) Handle(w http.ResponseWriter, r *http.Request) {\n"
          "\tif err := s.check(r); err != nil {\n\t\thttp.Error(w, err.Error(), 400)\n"
          "\t}\n}\n" * 20,
    "prose": "The quick brown fox jumps over the lazy dog. " * 40,
    "chinese": "这是一个用于测试的中文句子，包含标点符号。" * 30,
    "accents": "Après le déjeuner, nous irons à la bibliothèque municipale. " * 30,
}


def test_count_is_exact_o200k() -> None:
    assert tokens.exact()
    assert tokens.count("") == 0
    assert tokens.count("hello world") == 2
    # Special-token text is ordinary text in a prompt: counted, never an error.
    assert tokens.count("<|endoftext|><|fim_prefix|>") > 2


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_estimate_rarely_underestimates(name: str) -> None:
    text = SAMPLES[name]
    exact = tokens.count(text)
    assert tokens.estimate(text) >= 0.9 * exact
    assert tokens.estimate(text) <= 2.5 * exact
    assert tokens.upper_bound(text) >= exact


def test_estimate_is_constant_time_for_ascii() -> None:
    big = SAMPLES["python"] * 1000  # ~1.8 MB
    started = time.perf_counter()
    for _ in range(1000):
        tokens.estimate(big)
    assert (time.perf_counter() - started) / 1000 < 1e-4


def test_estimate_samples_non_ascii() -> None:
    big = SAMPLES["chinese"] * 500
    started = time.perf_counter()
    est = tokens.estimate(big)
    assert time.perf_counter() - started < 0.01
    assert est >= 0.9 * tokens.count(SAMPLES["chinese"]) * 500


def test_count_upto_is_exact_below_and_cheap_above() -> None:
    text = SAMPLES["go"]
    exact = tokens.count(text)
    assert tokens.count_upto(text, exact) == exact
    assert tokens.count_upto(text, exact - 1) > exact - 1
    huge = SAMPLES["python"] * 3000  # ~5 MB: a full count would take half a second
    started = time.perf_counter()
    assert tokens.count_upto(huge, 100) > 100
    assert time.perf_counter() - started < 0.05


def test_bundled_encoding_is_found_without_importing_litellm() -> None:
    folder = tokens.tokenizer_dir()
    assert folder is not None and os.path.isdir(folder)
    code = ("import sys, policies.tokens as t; n = t.count('hello world'); "
            "print(n, 'litellm' in sys.modules)")
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": "/nonexistent", "HTTPS_PROXY": "http://0.0.0.0:9"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=60, check=True)
    assert out.stdout.split() == ["2", "False"]


@pytest.fixture
def no_encoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(tokens, "tokenizer_dir", lambda: "/nonexistent")
    tokens._encoder.cache_clear()
    yield
    tokens._encoder.cache_clear()


@pytest.mark.usefixtures("no_encoding")
def test_falls_back_to_estimates_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="policies.tokens"):
        assert tokens.count("hello world") == tokens.estimate("hello world")
        tokens.count("more text")
        assert not tokens.exact()
    warnings = [r for r in caplog.records if "using estimates" in r.getMessage()]
    assert len(warnings) == 1


def test_deferred_counts_answer_the_ceiling_until_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy loads the encoding on first need, in a thread; meanwhile counts are upper
    bounds, so a budget checked against them is never exceeded."""
    started: list[bool] = []
    monkeypatch.setattr(tokens, "_deferred", True)
    monkeypatch.setattr(tokens, "_loaded", lambda: False)
    monkeypatch.setattr(tokens, "_start_loading", lambda: started.append(True))
    text = "déf f(x):\n    return x * 2  # ünïcode\n"
    assert tokens.count(text) == len(text.encode()) >= tokens.estimate(text)
    assert started == [True]
    assert tokens.count_upto(text * 100, 10) > 10
