"""Request bodies of the three generation APIs, validated and reduced to one `Job`.

A Job carries everything the server needs to answer: the answers themselves (computed
up front; they depend only on the body), token counts and the streaming options.
Validation errors are raised as `BadRequest`, which the server renders OpenAI-style.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from fleet.answers import (
    Answer,
    cursor_indent,
    request_seed,
    split_fim,
    text_answer,
    tool_call_answer,
)
from fleet.profiles import ModelProfile


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class Job:
    kind: str  # "chat" | "completion" | "responses"
    model: str
    stream: bool
    include_usage: bool
    seed: int
    prompt_tokens: int
    max_tokens: int | None
    answers: tuple[Answer, ...]  # one per choice (several only for a legacy prompt list)
    fim_family: str | None = None  # FIM form the prompt used, for profile checks and the log
    has_tools: bool = False
    completion_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        # Computed once: jobs are memoised and read on every request.
        object.__setattr__(
            self, "completion_tokens", sum(a.completion_tokens for a in self.answers)
        )


# Signs of "completion over chat": editors asking a chat model to fill a hole.
_HOLE_MARKERS = re.compile(r"\{\{FILL_HERE\}\}|<COMPLETION>|HOLE FILLER|<\|fim_|<fim_prefix>")


def _require_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("you must provide a model parameter", "model")
    return model


def _opt_int(body: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"{key} must be a positive integer", key)
        return value
    return None


def _stop(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise BadRequest("stop must be a string or a list of strings", "stop")


def _stream(body: dict[str, Any]) -> tuple[bool, bool]:
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise BadRequest("stream must be a boolean", "stream")
    options = body.get("stream_options")
    include = isinstance(options, dict) and options.get("include_usage") is True
    return bool(stream), include


def text_of(content: Any) -> str:
    """Text of a message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def count_tokens(text: str) -> int:
    # Roughly four characters per token, as the brief's contract states.
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _choose_tool(tools: Any, choice: Any, nested: bool) -> tuple[str, Any] | None:
    """(name, parameters) of the tool to call, or None. `nested` = chat's {"function": {}}."""
    if not isinstance(tools, list) or choice == "none":
        return None
    found: list[tuple[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        spec = tool.get("function") if nested else tool
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            found.append((spec["name"], spec.get("parameters")))
    if not found:
        return None
    if isinstance(choice, dict):
        spec = choice.get("function") if nested else choice
        wanted = spec.get("name") if isinstance(spec, dict) else None
        for name, params in found:
            if name == wanted:
                return name, params
        raise BadRequest(f"tool_choice names an unknown tool: {wanted!r}", "tool_choice")
    return found[0]


def parse_chat(raw: Any) -> Job:
    body = _require_dict(raw)
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty array", "messages")
    parts: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{i}] must be an object with a role", f"messages[{i}]")
        parts.append(text_of(message.get("content")))
        for call in message.get("tool_calls") or ():
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                parts.append(str(call["function"].get("arguments", "")))
    max_tokens = _opt_int(body, "max_completion_tokens", "max_tokens")
    stream, include_usage = _stream(body)
    seed = request_seed(body)
    last_role = messages[-1].get("role")
    tool = _choose_tool(body.get("tools"), body.get("tool_choice"), nested=True)
    last_text = text_of(messages[-1].get("content"))
    if tool is not None and last_role != "tool":
        answer = tool_call_answer(seed, *tool)
    else:
        code = _HOLE_MARKERS.search(last_text) is not None
        answer = text_answer(seed, code=code, max_tokens=max_tokens, stop=_stop(body))
    return Job(
        "chat", model, stream, include_usage, seed, count_tokens("".join(parts)), max_tokens,
        (answer,), has_tools=bool(body.get("tools")),
    )


def _prompts(prompt: Any) -> list[str]:
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return list(prompt)
        if all(isinstance(p, int) and not isinstance(p, bool) for p in prompt):
            return [" ".join(map(str, prompt))]  # token ids: one prompt
        if all(isinstance(p, list) for p in prompt):
            return [" ".join(map(str, p)) for p in prompt]
    raise BadRequest("prompt must be a string or an array of strings or tokens", "prompt")


def parse_completion(raw: Any) -> Job:
    body = _require_dict(raw)
    model = _model(body)
    prompts = _prompts(body.get("prompt"))
    suffix = body.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise BadRequest("suffix must be a string", "suffix")
    # OpenAI and vLLM default legacy completions to 16 tokens.
    max_tokens = _opt_int(body, "max_tokens") or 16
    stop = _stop(body)
    stream, include_usage = _stream(body)
    seed = request_seed(body)
    answers: list[Answer] = []
    family: str | None = "suffix" if suffix is not None else None
    for i, prompt in enumerate(prompts):
        fim = split_fim(prompt)
        if fim is not None and family is None:
            family = fim[0]
        prefix = fim[1] if fim is not None else prompt
        choice_seed = seed if i == 0 else (seed * 1_000_003 + i) & (2**64 - 1)
        answers.append(
            text_answer(choice_seed, code=True, max_tokens=max_tokens, stop=stop,
                        indent=cursor_indent(prefix))
        )
    prompt_tokens = count_tokens("".join(prompts) + (suffix or ""))
    return Job(
        "completion", model, stream, include_usage, seed, prompt_tokens, max_tokens,
        tuple(answers), fim_family=family,
    )


def parse_responses(raw: Any) -> Job:
    body = _require_dict(raw)
    model = _model(body)
    items = body.get("input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadRequest("instructions must be a string", "instructions")
    texts = [instructions or ""]
    last_type = "message"
    if isinstance(items, str):
        texts.append(items)
    elif isinstance(items, list):
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise BadRequest(f"input[{i}] must be an object", f"input[{i}]")
            last_type = str(item.get("type", "message"))
            texts.append(text_of(item.get("content")))
            texts.append(str(item.get("output", "")) + str(item.get("arguments", "")))
    else:
        raise BadRequest("input must be a string or an array of items", "input")
    max_tokens = _opt_int(body, "max_output_tokens")
    stream, _ = _stream(body)
    seed = request_seed(body)
    tool = _choose_tool(body.get("tools"), body.get("tool_choice"), nested=False)
    if tool is not None and last_type != "function_call_output":
        answer = tool_call_answer(seed, *tool)
    else:
        code = _HOLE_MARKERS.search(texts[-1]) is not None
        answer = text_answer(seed, code=code, max_tokens=max_tokens, stop=())
    return Job(
        "responses", model, stream, True, seed, count_tokens("".join(texts)), max_tokens,
        (answer,), has_tools=bool(body.get("tools")),
    )


def check_profile(job: Job, profile: ModelProfile) -> None:
    """Reject what the simulated model could not serve, like vLLM would."""
    if job.has_tools and not profile.tools:
        raise BadRequest(f"model {job.model} does not support tools", "tools")
    family = job.fim_family
    if family is not None and profile.fim != "any" and family != profile.fim:
        expected = "no FIM" if profile.fim == "none" else f"the {profile.fim} FIM form"
        raise BadRequest(
            f"model {job.model} takes {expected}; the request used the {family} form",
            "suffix" if family == "suffix" else "prompt", "unsupported_fim",
        )
    needed = job.prompt_tokens + (job.max_tokens or 0)
    if needed > profile.context_window:
        raise BadRequest(
            f"This model's maximum context length is {profile.context_window} tokens. However, "
            f"you requested {needed} tokens ({job.prompt_tokens} in the messages, "
            f"{job.max_tokens or 0} in the completion).",
            "messages", "context_length_exceeded",
        )
