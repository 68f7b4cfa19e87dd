"""Request bodies as real coding tools write them (docs: client-shapes.md).

Shared by `laneway demo` and the locust load test, so both send what production sends:
Continue's FIM prompts (Qwen, StarCoder, DeepSeek markers), Tabby's prompt + suffix,
Continue chat and Aider ask, a commit-message side job, an OpenAI-tools agent and a Cline
XML-tool agent. The code in them is laneway's own source: real files, real lengths.
Builders are pure: the same arguments give the same body.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Packages whose .py files make the code corpus (installed next to this one).
_CORPUS_PACKAGES = ("router", "policies", "cache", "fleet")


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative, as an editor shows it
    text: str


@functools.cache
def corpus() -> tuple[SourceFile, ...]:
    root = Path(__file__).resolve().parents[1]
    files = [
        SourceFile(str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace"))
        for pkg in _CORPUS_PACKAGES
        for p in sorted((root / pkg).rglob("*.py"))
    ]
    # Tiny files (empty __init__.py) have no line worth typing.
    return tuple(f for f in files if f.text.count("\n") >= 20)


# -- completion: fill-in-the-middle ------------------------------------------------------------

FIM_STYLES = ("qwen", "starcoder", "deepseek", "tabby")

_QWEN_STOPS = ["<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
               "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<|im_start|>", "<|im_end|>"]
_STARCODER_STOPS = ["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>",
                    "<|endoftext|>"]
_DEEPSEEK_STOPS = ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>",
                   "<｜end▁of▁sentence｜>"]


def fim_body(style: str, prefix: str, suffix: str, path: str,
             context: tuple[SourceFile, ...] = ()) -> dict[str, Any]:
    """A streamed `/v1/completions` body. Continue writes the markers into `prompt`
    (with other open files as Qwen repo context) and asks for the model's default 4,096
    tokens; Tabby sends `prompt` + `suffix`, 64 tokens, snippets as comment lines."""
    body: dict[str, Any] = {"model": "auto", "stream": True,
                            "stream_options": {"include_usage": True}}
    if style == "tabby":
        snippets = "".join(
            "# " + line + "\n" for f in context for line in f.text.splitlines()[:12]
        )
        return body | {"prompt": f"# Path: {path}\n{snippets}{prefix}", "suffix": suffix,
                       "max_tokens": 64, "temperature": 0.1}
    if style == "qwen":
        repo = "".join(f"<|file_sep|>{f.path}\n{f.text}" for f in context)
        head = f"<|repo_name|>laneway\n{repo}<|file_sep|>{path}\n" if context else ""
        prompt = f"{head}<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"
        stop = _QWEN_STOPS
    elif style == "starcoder":
        prompt = f"<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"
        stop = _STARCODER_STOPS
    elif style == "deepseek":
        prompt = f"<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>"
        stop = _DEEPSEEK_STOPS
    else:
        raise ValueError(f"unknown FIM style {style!r}")
    return body | {"prompt": prompt, "max_tokens": 4096, "temperature": 0.01,
                   "stop": [*stop, "\n\n\n"]}


# -- qa: questions without tools ---------------------------------------------------------------

QUESTIONS = (
    "Why does this return None for some inputs?",
    "What is the time complexity of this, and can it be better?",
    "Is this safe to call from several asyncio tasks at once?",
    "How would you unit test this?",
    "Explain what this code does, step by step.",
    "Which edge cases does this miss?",
)
FOLLOW_UPS = (
    "Can you show that as a diff?",
    "What would break if I removed the early return?",
    "And how does that interact with cancellation?",
)
# Asked by many developers, at temperature 0: the answer cache's best case.
POPULAR = (
    "How do I run only the end-to-end tests with pytest?",
    "What is the difference between asyncio.gather and asyncio.TaskGroup?",
    "How do I pin a dependency to an exact version in pyproject.toml?",
)

_CONTINUE_CHAT = (
    "<important_rules>\n  You are in chat mode.\n\n  If the user asks to make changes to files "
    "offer that they can use the Apply Button on the code block, or switch to Agent Mode to "
    "make the suggested updates automatically.\n  Always include the language and file name "
    "in the info string when you write code blocks.\n</important_rules>"
)
_AIDER_ASK = (
    "Act as an expert code analyst.\nAnswer questions about the supplied code.\n"
    "Always reply to the user in English.\n"
)


def excerpt(f: SourceFile, start_line: int, lines: int = 40) -> str:
    return "\n".join(f.text.splitlines()[start_line:start_line + lines])


def continue_chat(turns: list[dict[str, Any]], temperature: float) -> dict[str, Any]:
    """Continue's chat mode: its rules as the system message, streamed with usage."""
    return {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "temperature": temperature,
            "messages": [{"role": "system", "content": _CONTINUE_CHAT}, *turns]}


def question_turn(question: str, f: SourceFile | None, start_line: int = 0) -> dict[str, Any]:
    if f is None:
        return {"role": "user", "content": question}
    code = excerpt(f, start_line)
    return {"role": "user", "content": f"```python {f.path}\n{code}\n```\n\n{question}"}


def aider_ask(question: str, files: tuple[SourceFile, ...], temperature: float) -> dict[str, Any]:
    """Aider's ask mode: a repository summary as user turns, then the question."""
    repo_map = "\n".join(
        f"{f.path}:\n" + "\n".join(
            "│" + line for line in f.text.splitlines() if line.startswith(("def ", "class "))
        )
        for f in files
    )
    return {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "temperature": temperature,
            "messages": [
                {"role": "system", "content": _AIDER_ASK},
                {"role": "user", "content": "Here are summaries of some files present in "
                                            f"my git repository.\n\n{repo_map}"},
                {"role": "assistant", "content": "Ok, I won't try and edit those files."},
                {"role": "user", "content": question},
            ]}


def commit_message(f: SourceFile, start_line: int) -> dict[str, Any]:
    """A side job an agent tool sends without tools: classified by its content."""
    lines = f.text.splitlines()[start_line:start_line + 12]
    diff = f"--- a/{f.path}\n+++ b/{f.path}\n@@ -{start_line + 1},12 @@\n" + "\n".join(
        ("-" if i == 3 else " ") + line for i, line in enumerate(lines)
    )
    return {"model": "auto", "stream": True, "stream_options": {"include_usage": True},
            "temperature": 0,
            "messages": [{"role": "user", "content": "Generate a concise commit message "
                                                     f"for this diff:\n\n{diff}"}]}
