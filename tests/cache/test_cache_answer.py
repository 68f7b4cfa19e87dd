"""Stored answers: SSE splitting, assembly from a stream, replay, storage format."""

from __future__ import annotations

from typing import Any

import orjson
from cache_samples import (
    BASE,
    USAGE,
    assemble,
    chat_chunks,
    chat_summary,
    completion_chunks,
    response_events,
    response_object,
    tool_call_chunks,
)

from cache.answer import StoredAnswer
from cache.assemble import assemble_body
from cache.sse import EventSplitter


def payloads(stream: bytes) -> list[Any]:
    out = []
    for frame in stream.split(b"\n\n"):
        for line in frame.split(b"\n"):
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                out.append(orjson.loads(line[6:]))
    return out


def test_splitter_is_indifferent_to_chunk_boundaries() -> None:
    stream = b"".join(chat_chunks(["def ", "f():\n", "    pass"])).replace(b"\n\n", b"\r\n\r\n")
    whole = [e.raw for e in EventSplitter().feed(stream)]
    assert len(whole) == 7
    for cut in range(1, len(stream)):
        splitter = EventSplitter()
        got = [e.raw for e in splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])]
        assert got == whole, cut
    assert all(raw.endswith(b"\n\n") and b"\r" not in raw for raw in whole)


def test_splitter_flushes_a_last_frame_without_blank_line() -> None:
    splitter = EventSplitter()
    assert splitter.feed(b"data: [DONE]\n") == []
    [last] = splitter.flush()
    assert last.done and last.raw == b"data: [DONE]\n\n"


def test_chat_stream_assembles_into_a_chat_completion() -> None:
    obj = assemble("chat", chat_chunks(["Hel", "lo", " world"]))
    assert obj is not None
    assert obj["object"] == "chat.completion"
    assert {k: obj[k] for k in BASE} == BASE
    [choice] = obj["choices"]
    assert choice["message"] == {"role": "assistant", "content": "Hello world"}
    assert choice["finish_reason"] == "stop"
    assert obj["usage"] == USAGE


def test_tool_calls_merge_by_index() -> None:
    obj = assemble("chat", tool_call_chunks())
    assert obj is not None
    msg = obj["choices"][0]["message"]
    assert msg["content"] is None
    assert msg["tool_calls"] == [
        {"id": "call_a", "type": "function", "function": {"name": "read",
                                                         "arguments": '{"path": "a.py"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "grep",
                                                         "arguments": '{"q": "x"}'}},
    ]
    assert obj["choices"][0]["finish_reason"] == "tool_calls"


def test_unfinished_or_failed_streams_have_no_answer() -> None:
    assert assemble("chat", chat_chunks(["a"], done=False)) is None  # cut before [DONE]
    assert assemble("chat", chat_chunks(["a"])[:2]) is None  # cut mid-answer
    error = b'data: {"error": {"message": "boom", "type": "server_error"}}\n\n'
    assert assemble("chat", [*chat_chunks(["a"])[:2], error]) is None
    assert assemble("chat", [*chat_chunks(["a"])[:-1], error, b"data: [DONE]\n\n"]) is None
    assert assemble("responses", response_events("hello", final="response.failed")) is None
    assert assemble("responses", response_events("hello")[:-1]) is None


def test_chat_replay_is_identical_with_and_without_usage() -> None:
    original = assemble("chat", chat_chunks(["Hel", "lo"]))
    assert original is not None
    answer = StoredAnswer.from_object("chat", original, "fast")
    with_usage = answer.sse(include_usage=True)
    assert with_usage.endswith(b"data: [DONE]\n\n")
    replayed = assemble("chat", [with_usage])
    assert replayed is not None and chat_summary(replayed) == chat_summary(original)
    chunks = payloads(with_usage)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all({k: c[k] for k in BASE} == BASE for c in chunks)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    assert all(c["usage"] is None for c in chunks[:-1])  # as OpenAI streams with include_usage
    without = answer.sse(include_usage=False)
    assert b'"usage"' not in without
    replayed = assemble("chat", [without])
    assert replayed is not None
    assert chat_summary(replayed)[:3] == chat_summary(original)[:3]


def test_tool_call_replay_is_identical() -> None:
    original = assemble("chat", tool_call_chunks())
    assert original is not None
    stream = StoredAnswer.from_object("chat", original, "fast").sse(include_usage=True)
    replayed = assemble("chat", [stream])
    assert replayed is not None and chat_summary(replayed) == chat_summary(original)


def test_completion_stream_and_replay() -> None:
    original = assemble("completions", completion_chunks(["    return ", "a + b"]))
    assert original is not None
    assert original["object"] == "text_completion"
    assert original["choices"][0]["text"] == "    return a + b"
    stream = StoredAnswer.from_object("completions", original, "fast").sse(include_usage=True)
    replayed = assemble("completions", [stream])
    assert replayed == original


def test_responses_stream_and_replay() -> None:
    original = assemble("responses", response_events("hello world"))
    assert original == response_object("hello world")
    stream = StoredAnswer.from_object("responses", original, "big").sse(include_usage=False)
    assert b"[DONE]" not in stream
    events = payloads(stream)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "hello world"
    assert assemble("responses", [stream]) == original


def test_stored_answer_round_trip_keeps_the_body_bytes() -> None:
    body = orjson.dumps(BASE | {"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "x\ny"},
         "finish_reason": "stop"}], "usage": USAGE})
    answer = StoredAnswer("chat", body, "fast", stored_at=123.0)
    again = StoredAnswer.from_bytes(answer.to_bytes())
    assert again is not None
    assert (again.kind, again.body, again.model, again.stored_at, again.usage) == (
        "chat", body, "fast", 123.0, True)
    assert again.text() == "x\ny"
    assert StoredAnswer.from_bytes(answer.to_bytes("lw:v1:r:a"), "lw:v1:r:a") is not None
    assert StoredAnswer.from_bytes(answer.to_bytes("lw:v1:r:a"), "lw:v1:r:b") is None
    assert StoredAnswer.from_bytes(b"garbage") is None
    assert StoredAnswer.from_bytes(b'{"f": 99}\n{}') is None


def test_non_streamed_bodies() -> None:
    ok = orjson.dumps(response_object("hi"))
    answer = assemble_body("responses", ok, "big")
    assert answer is not None and answer.body == ok and answer.text() == "hi"
    assert assemble_body("chat", b'{"error": {"message": "no"}}', "fast") is None
    assert assemble_body("chat", b"not json", "fast") is None
    assert assemble_body("chat", b'{"choices": []}', "fast") is None
    failed = orjson.dumps(response_object("hi", status="failed"))
    assert assemble_body("responses", failed, "big") is None


def test_the_trim_summary_travels_with_the_answer() -> None:
    """A hit keyed on the client's body reports what trimming did without trimming again,
    also when the answer came from another replica through Redis."""
    body = orjson.dumps({"id": "c", "object": "text_completion", "choices": [
        {"index": 0, "text": "x", "finish_reason": "stop"}], "usage": USAGE})
    answer = StoredAnswer("completions", body, "fast", stored_at=1.0)
    assert StoredAnswer.from_bytes(answer.to_bytes("k"), "k").trim is None  # type: ignore[union-attr]
    answer.trim = (900, 700, "line")
    again = StoredAnswer.from_bytes(answer.to_bytes("k"), "k")
    assert again is not None and again.trim == (900, 700, "line")


def test_a_compacted_answer_still_renders() -> None:
    """L1 keeps answers compacted (bytes, no parsed tree): every rendering still works."""
    obj = {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "hi"},
         "finish_reason": "stop"}], "usage": USAGE}
    answer = StoredAnswer.from_object("chat", obj, "fast")
    before = (answer.sse(True), answer.sse(False), answer.text())
    fresh = StoredAnswer.from_object("chat", obj, "fast")
    fresh.compact()
    assert (fresh.sse(True), fresh.sse(False), fresh.text()) == before
    assert fresh.body == answer.body and fresh.usage
