"""Request bodies: Messages -> chat completions, and chat completions -> Messages.

Neither function mutates its input; both build a new body from the fields they know.
"""

from __future__ import annotations

from typing import Any

import orjson

# Anthropic requires max_tokens; an OpenAI client may leave it out.
DEFAULT_MAX_TOKENS = 4096

_TOOL_CHOICE_TO_CHAT = {"auto": "auto", "any": "required", "none": "none"}
_TOOL_CHOICE_TO_MESSAGES = {"auto": "auto", "required": "any", "none": "none"}


def _text_of_blocks(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        b["text"] for b in content
        if isinstance(b, dict) and b.get("type", "text") == "text"
        and isinstance(b.get("text"), str)
    )


def _image_to_chat(block: dict[str, Any]) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result_text(block: dict[str, Any]) -> str:
    text = _text_of_blocks(block.get("content"))
    return f"Error: {text}" if block.get("is_error") else text


def _user_to_chat(content: Any) -> list[dict[str, Any]]:
    """One Messages user turn -> chat messages: tool results first (as `tool` messages,
    which must follow the assistant's calls), then what the user said."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "tool_result":
            out.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")),
                        "content": _tool_result_text(block)})
        elif kind == "text" and isinstance(block.get("text"), str):
            parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            image = _image_to_chat(block)
            if image is not None:
                parts.append(image)
    if parts:
        if all(p["type"] == "text" for p in parts):
            out.append({"role": "user", "content": "\n".join(p["text"] for p in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _assistant_to_chat(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "tool_use":
            calls.append({
                "id": str(block.get("id", "")), "type": "function",
                "function": {"name": str(block.get("name", "")),
                             "arguments": orjson.dumps(block.get("input") or {}).decode()},
            })
        # thinking / redacted_thinking: no counterpart in chat, dropped.
    # null content only beside tool calls: some servers refuse an assistant turn with
    # neither (one that only thought, its thinking dropped here).
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def messages_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages request as a chat completions request."""
    messages: list[dict[str, Any]] = []
    system = _text_of_blocks(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for m in body.get("messages") or ():
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        if role == "assistant":
            messages.append(_assistant_to_chat(m.get("content")))
        elif role == "system":  # a mid-conversation system turn (Claude Code)
            text = _text_of_blocks(m.get("content"))
            if text:
                messages.append({"role": "system", "content": text})
        else:
            messages.extend(_user_to_chat(m.get("content")))
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    if isinstance(body.get("max_tokens"), int):
        out["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    tools = [
        {"type": "function", "function": {
            "name": t["name"], "description": t.get("description", ""),
            "parameters": t.get("input_schema") or {"type": "object", "properties": {}}}}
        for t in body.get("tools") or ()
        # Server tools (web search, code execution, ...) run at Anthropic: no counterpart.
        if isinstance(t, dict) and isinstance(t.get("name"), str) and "input_schema" in t
    ]
    if tools:
        out["tools"] = tools
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            kind = choice.get("type")
            if kind == "tool" and isinstance(choice.get("name"), str):
                out["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
            elif kind in _TOOL_CHOICE_TO_CHAT:
                out["tool_choice"] = _TOOL_CHOICE_TO_CHAT[kind]
            if choice.get("disable_parallel_tool_use") is True:
                out["parallel_tool_calls"] = False
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    return out


def _image_to_messages(part: dict[str, Any]) -> dict[str, Any] | None:
    spec = part.get("image_url")
    url = spec.get("url") if isinstance(spec, dict) else spec
    if not isinstance(url, str):
        return None
    if url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type,
                                            "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _chat_content_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and isinstance(part.get("text"), str) and part["text"]:
            blocks.append({"type": "text", "text": part["text"]})
        elif part.get("type") == "image_url":
            image = _image_to_messages(part)
            if image is not None:
                blocks.append(image)
    return blocks


def _arguments(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def chat_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    """A chat completions request as a Messages request."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        # Messages alternates roles: consecutive turns of one role become one turn, which
        # also puts a run of tool results first in the user turn that carries them.
        if not blocks:
            return
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for m in body.get("messages") or ():
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        content = m.get("content")
        if role in ("system", "developer"):
            text = _text_of_blocks(content)
            if text:
                system.append(text)
        elif role == "assistant":
            blocks = _chat_content_blocks(content)
            for call in m.get("tool_calls") or ():
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict):
                    blocks.append({"type": "tool_use", "id": str(call.get("id", "")),
                                   "name": str(fn.get("name", "")),
                                   "input": _arguments(fn.get("arguments"))})
            add("assistant", blocks)
        elif role in ("tool", "function"):
            add("user", [{"type": "tool_result", "tool_use_id": str(m.get("tool_call_id", "")),
                          "content": _text_of_blocks(content)}])
        else:
            add("user", _chat_content_blocks(content))
    out: dict[str, Any] = {"model": body.get("model"), "messages": turns}
    if system:
        out["system"] = "\n\n".join(system)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    out["max_tokens"] = limit if isinstance(limit, int) and limit > 0 else DEFAULT_MAX_TOKENS
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        out["temperature"] = min(float(temperature), 1.0)  # OpenAI's range is 0-2, Anthropic's 0-1
    for key in ("top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = [s for s in stop if isinstance(s, str)]
    if body.get("stream"):
        out["stream"] = True
    tools = []
    for t in body.get("tools") or ():
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            tool = {"name": fn["name"],
                    "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
            if fn.get("description"):
                tool["description"] = fn["description"]
            tools.append(tool)
    if tools:
        out["tools"] = tools
        choice = body.get("tool_choice")
        mapped: dict[str, Any] | None = None
        if isinstance(choice, str) and choice in _TOOL_CHOICE_TO_MESSAGES:
            mapped = {"type": _TOOL_CHOICE_TO_MESSAGES[choice]}
        elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
            mapped = {"type": "tool", "name": str(choice["function"].get("name", ""))}
        if body.get("parallel_tool_calls") is False:
            mapped = (mapped or {"type": "auto"}) | {"disable_parallel_tool_use": True}
        if mapped is not None:
            out["tool_choice"] = mapped
    user = body.get("user")
    if isinstance(user, str) and user:
        out["metadata"] = {"user_id": user}
    return out
