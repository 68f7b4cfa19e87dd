"""Cost of trimming: ms per trim of a 400 kB FIM prompt (and of big chats), policies-level.

    .venv/bin/python loadtests/bench/trim.py [--runs 50] [--size 400000]

No network, no proxy: the trimming functions are called directly on bodies as clients
send them. The encoding is loaded first (once per process in the proxy, at startup) and
reported separately. Times are wall-clock per call: min, median and p95 over --runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies import tokens
from policies.trim import TrimBudget, trim_agentic, trim_chat, trim_completion


def source(size: int) -> str:
    """Deterministic Python-like source of ``size`` chars (~48 chars a line)."""
    lines = []
    i = 0
    while sum(map(len, lines)) + len(lines) < size:
        if i % 7 == 0:
            lines.append(f"def handler_{i}(request, limit={i % 97}):")
        elif i % 7 == 6:
            lines.append("")
        else:
            lines.append(f"    value_{i} = request.get('k{i}', {i}) * limit  # step {i}")
        i += 1
    return "\n".join(lines)[:size]


def fim_bodies(size: int) -> dict[str, dict[str, Any]]:
    text = source(size)
    cut = text.find("\n", int(size * 0.7)) + 1
    prefix, suffix = text[:cut] + "    result = compute(", ")\n" + text[cut:]
    files = "".join(f"<|file_sep|>pkg/mod{i}.py\n{source(8000)}\n" for i in range(6))
    stops = ["<|endoftext|>", "<|fim_pad|>", "<|file_sep|>"]
    return {
        "qwen": {"prompt": f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
                 "max_tokens": 4096, "stop": stops, "stream": True},
        "qwen+repo": {"prompt": f"<|repo_name|>acme\n{files}<|file_sep|>app.py\n"
                                f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
                      "max_tokens": 4096, "stop": stops, "stream": True},
        "suffix field": {"prompt": prefix, "suffix": suffix, "max_tokens": 64},
    }


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return samples[0], statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--size", type=int, default=400_000, help="prompt size in chars")
    args = parser.parse_args()

    started = time.perf_counter()
    exact = tokens.warm()
    print(f"encoding load: {(time.perf_counter() - started) * 1000:.0f} ms "
          f"({'o200k_base' if exact else 'UNAVAILABLE: estimates only'})")
    completion = TrimBudget(4096, max_output_tokens=256)
    print(f"{'case':<40} {'min':>7} {'median':>7} {'p95':>7}  tokens before -> after")
    for name, body in fim_bodies(args.size).items():
        for target in (None, "deepseek", "codestral"):
            def run(body: dict[str, Any] = body, target: str | None = target) -> Any:
                return trim_completion("completions", body, completion, target)
            result = run()
            label = f"completion {name} -> {target or 'same family'}"
            lo, med, p95 = timed(run, args.runs)
            print(f"{label:<40} {lo:7.2f} {med:7.2f} {p95:7.2f}  "
                  f"{result.tokens_before} -> {result.tokens_after} ({result.scope})")

    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": source(2000)}
             for i in range(args.size // 2000)]
    chat = {"messages": [{"role": "system", "content": "You are in chat mode."}, *turns,
                         {"role": "user", "content": "why?"}]}
    result = trim_chat(chat, TrimBudget(16384))
    lo, med, p95 = timed(lambda: trim_chat(chat, TrimBudget(16384)), args.runs)
    print(f"{'qa chat (16k budget)':<40} {lo:7.2f} {med:7.2f} {p95:7.2f}  "
          f"{result.tokens_before} -> {result.tokens_after}")

    agent = {"messages": [
        {"role": "user", "content": "fix it"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "sh", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": source(args.size)}]}
    budget = TrimBudget(128_000, tool_output_tokens=8192)
    result = trim_agentic("chat", agent, budget)
    lo, med, p95 = timed(lambda: trim_agentic("chat", agent, budget), args.runs)
    print(f"{'agentic 400 kB tool output (8k cap)':<40} {lo:7.2f} {med:7.2f} {p95:7.2f}  "
          f"{result.tokens_before} -> {result.tokens_after}")


if __name__ == "__main__":
    main()
