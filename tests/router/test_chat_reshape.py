"""Reshaping a completions stream for a chat client, whatever its chunk boundaries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.responses import StreamingResponse

from router.http.prompt_on_chat import as_chat

EVENTS = [
    {"id": "c1", "object": "text_completion", "choices": [{"index": 0, "text": "ret"}]},
    {"id": "c1", "object": "text_completion", "choices": [{"index": 0, "text": "urn 1",
                                                            "finish_reason": "stop"}]},
]
STREAM = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in EVENTS) + b"data: [DONE]\n\n"


async def _pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


async def _reshaped(size: int) -> bytes:
    resp = as_chat(StreamingResponse(_pieces(STREAM, size), media_type="text/event-stream"))
    assert isinstance(resp, StreamingResponse)
    return b"".join([bytes(c) async for c in resp.body_iterator])  # type: ignore[arg-type]


def test_any_chunking_gives_the_same_chat_events():
    outs = {asyncio.run(_reshaped(size)) for size in (1, 7, 64, len(STREAM))}
    assert len(outs) == 1
    [out] = outs
    events = [line[6:] for line in out.decode().split("\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [orjson.loads(e) for e in events[:-1]]
    assert [c["object"] for c in chunks] == ["chat.completion.chunk"] * 2
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "ret"}
    assert chunks[1]["choices"][0]["delta"] == {"content": "urn 1"}
    assert chunks[1]["choices"][0]["finish_reason"] == "stop"
