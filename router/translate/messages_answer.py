"""Whole (non-streamed) answers: chat completion <-> Messages message; stop reasons, usage."""

from __future__ import annotations

import time
from typing import Any

import orjson

STOP_TO_FINISH = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}
FINISH_TO_STOP = {
    "stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
    "function_call": "tool_use", "content_filter": "refusal",
}


def messages_usage(usage: Any) -> dict[str, int]:
    """OpenAI usage as Messages usage: cached prompt tokens are cache reads, which Anthropic
    counts apart from `input_tokens`."""
    if not isinstance(usage, dict):
        return {"input_tokens": 0, "output_tokens": 0}
    prompt = int(usage.get("prompt_tokens") or 0)
    details = usage.get("prompt_tokens_details")
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": int(usage.get("completion_tokens") or 0),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def chat_usage(usage: Any) -> dict[str, Any]:
    """Messages usage as OpenAI usage: every kind of input token is a prompt token."""
    if not isinstance(usage, dict):
        usage = {}
    read = int(usage.get("cache_read_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + read + int(
        usage.get("cache_creation_input_tokens") or 0)
    output = int(usage.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": output,
            "total_tokens": prompt + output, "prompt_tokens_details": {"cached_tokens": read}}


def message_id(chat_id: Any) -> str:
    text = str(chat_id or "")
    return text if text.startswith("msg_") else "msg_" + text.removeprefix("chatcmpl-")


def _input_of(arguments: Any) -> Any:
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def chat_to_message(answer: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as a Messages answer (the first choice: Messages has one)."""
    choices = answer.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = msg.get("reasoning_content") or msg.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = msg.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in msg.get("tool_calls") or ():
        fn = call.get("function") if isinstance(call, dict) else None
        if isinstance(fn, dict):
            content.append({"type": "tool_use", "id": str(call.get("id") or ""),
                            "name": str(fn.get("name") or ""),
                            "input": _input_of(fn.get("arguments"))})
    finish = choice.get("finish_reason")
    return {
        "id": message_id(answer.get("id")), "type": "message", "role": "assistant",
        "model": answer.get("model") or "", "content": content,
        "stop_reason": FINISH_TO_STOP.get(finish or "stop", "end_turn"),
        "stop_sequence": None, "usage": messages_usage(answer.get("usage")),
    }


def message_to_chat(answer: dict[str, Any]) -> dict[str, Any]:
    """A Messages answer as a chat completion."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in answer.get("content") or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            reasoning.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": str(block.get("id") or ""), "type": "function",
                          "function": {"name": str(block.get("name") or ""),
                                       "arguments": arguments}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    stop = answer.get("stop_reason")
    return {
        "id": "chatcmpl-" + str(answer.get("id") or "").removeprefix("msg_"),
        "object": "chat.completion", "created": int(time.time()),
        "model": answer.get("model") or "",
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": STOP_TO_FINISH.get(stop or "end_turn", "stop")}],
        "usage": chat_usage(answer.get("usage")),
    }
