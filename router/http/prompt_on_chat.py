"""A raw `prompt` (no `messages`) posted to the chat path: the completion it is, answered
in the chat shape the client will parse.

Editor plugins written against a completions API and pointed at a chat URL (or told that
every OpenAI-compatible server takes a prompt there) send `{"prompt", "suffix", ...}` to
`/chat/completions`. Refusing them is unhelpful; wrapping the prompt in a user message
would lose what it is (a FIM prompt, trimmed and re-rendered per model family). So the
request goes through the pipeline as a completion, and only its answer is reshaped:
`text_completion` -> `chat.completion`, each streamed `text` -> a chat `delta`. Errors
already share one shape on both paths and pass as they are.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

_EVENT_END = b"\n\n"


def is_prompt_on_chat(body: dict[str, Any]) -> bool:
    return "messages" not in body and "prompt" in body


def as_chat(resp: Response) -> Response:
    """The pipeline's completions answer, reshaped for a chat client."""
    if resp.status_code != 200:
        return resp
    if isinstance(resp, StreamingResponse):
        resp.body_iterator = _chat_events(resp.body_iterator)
        return resp
    sse = (resp.media_type or resp.headers.get("content-type", "")).startswith(
        "text/event-stream")
    body = bytes(resp.body)
    new = b"".join(_reframe(body, [True])) if sse else _chat_answer(body)
    if new is not body:
        resp.body = new
        resp.headers["content-length"] = str(len(new))
    return resp


def _chat_answer(data: bytes) -> bytes:
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    if not isinstance(answer, dict) or not isinstance(answer.get("choices"), list):
        return data
    answer["object"] = "chat.completion"
    answer["choices"] = [
        {"index": c.get("index", i), "finish_reason": c.get("finish_reason"), "logprobs": None,
         "message": {"role": "assistant", "content": c.get("text") or ""}}
        for i, c in enumerate(answer["choices"]) if isinstance(c, dict)
    ]
    return orjson.dumps(answer)


def _chat_chunk(payload: bytes, first: list[bool]) -> bytes:
    try:
        chunk = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list):
        return payload  # an error event or a usage-only chunk without choices
    chunk["object"] = "chat.completion.chunk"
    choices = []
    for i, c in enumerate(chunk["choices"]):
        if not isinstance(c, dict):
            continue
        delta: dict[str, Any] = {"content": c.get("text") or ""}
        if first[0]:
            delta = {"role": "assistant", **delta}
        choices.append({"index": c.get("index", i), "delta": delta, "logprobs": None,
                        "finish_reason": c.get("finish_reason")})
    if choices:
        first[0] = False
    chunk["choices"] = choices
    return orjson.dumps(chunk)


def _reframe(data: bytes, first: list[bool]) -> tuple[bytes, bytes]:
    """(the complete events of `data` reshaped, the unfinished rest)."""
    data = data.replace(b"\r\n", b"\n")
    *events, rest = data.split(_EVENT_END)
    out = []
    for event in events:
        lines = []
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                payload = line[5:].strip()
                if payload != b"[DONE]":
                    line = b"data: " + _chat_chunk(payload, first)
            lines.append(line)
        out.append(b"\n".join(lines) + _EVENT_END)
    return b"".join(out), rest


async def _chat_events(chunks: AsyncIterable[Any]) -> AsyncIterator[bytes]:
    first = [True]
    pending = b""
    try:
        async for chunk in chunks:
            data = chunk if isinstance(chunk, bytes) else str(chunk).encode()
            done, pending = _reframe(pending + data, first)
            if done:
                yield done
        if pending:
            yield pending  # an unfinished last event (a cut stream): passed as it came
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()  # the relay records the request when it closes
