"""Messages <-> chat translation: requests, whole answers, and both streaming directions."""

from __future__ import annotations

from typing import Any

import orjson

from router.translate.messages_answer import chat_to_message, message_to_chat
from router.translate.messages_request import chat_to_messages, messages_to_chat
from router.translate.messages_stream import ChatToMessages, MessagesToChat, _Frames

TOOL = {"name": "read_file", "description": "Read a file",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}}


def _claude_code_turns() -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-5", "max_tokens": 64000, "stream": True,
        "system": [{"type": "text", "text": "You are Claude Code.",
                    "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "context_management": {"edits": []}, "output_config": {"effort": "high"},
        "metadata": {"user_id": "user_abc"}, "stop_sequences": ["</done>"],
        "tools": [TOOL, {"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "look at this"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "AAAA"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "read_file",
                 "input": {"path": "a.py"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1",
                 "content": [{"type": "text", "text": "print(1)"}]},
                {"type": "text", "text": "and now?"}]},
        ],
    }


def test_messages_request_becomes_chat_with_tools_images_and_results_in_order() -> None:
    chat = messages_to_chat(_claude_code_turns())
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert chat["messages"][0]["content"] == "You are Claude Code."
    assert chat["messages"][1]["content"][1] == {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    call = chat["messages"][2]["tool_calls"][0]
    assert call["id"] == "toolu_1"
    assert orjson.loads(call["function"]["arguments"]) == {"path": "a.py"}
    assert chat["messages"][2]["content"] == "Reading."  # the thinking block has no counterpart
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "print(1)"}
    assert chat["messages"][4] == {"role": "user", "content": "and now?"}
    assert chat["tools"] == [{"type": "function", "function": {
        "name": "read_file", "description": "Read a file", "parameters": TOOL["input_schema"]}}]
    assert chat["tool_choice"] == "required" and chat["parallel_tool_calls"] is False
    assert chat["stop"] == ["</done>"] and chat["user"] == "user_abc"
    assert chat["max_tokens"] == 64000
    assert chat["stream_options"] == {"include_usage": True}
    for dropped in ("thinking", "context_management", "output_config", "system", "metadata"):
        assert dropped not in chat


def test_chat_request_becomes_messages_with_merged_tool_results() -> None:
    body = {
        "model": "m", "temperature": 1.5, "stop": "END", "user": "u1", "stream": True,
        "parallel_tool_calls": False, "tool_choice": {"type": "function",
                                                      "function": {"name": "read_file"}},
        "tools": [{"type": "function", "function": {"name": "read_file",
                                                    "parameters": TOOL["input_schema"]}}],
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "hi"}, {
                "type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}}]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "read_file", "arguments": '{"path": "x"}'}},
                {"id": "c2", "type": "function",
                 "function": {"name": "read_file", "arguments": '{"path": "y"}'}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "X"},
            {"role": "tool", "tool_call_id": "c2", "content": "Y"},
        ],
    }
    msgs = chat_to_messages(body)
    assert msgs["system"] == "Be brief."
    assert msgs["max_tokens"] == 4096 and msgs["temperature"] == 1.0
    assert msgs["stop_sequences"] == ["END"] and msgs["metadata"] == {"user_id": "u1"}
    assert [t["role"] for t in msgs["messages"]] == ["user", "assistant", "user"]
    assert msgs["messages"][0]["content"][1]["source"] == {
        "type": "base64", "media_type": "image/jpeg", "data": "QUJD"}
    assert [b["input"] for b in msgs["messages"][1]["content"]] == [{"path": "x"}, {"path": "y"}]
    assert [b["tool_use_id"] for b in msgs["messages"][2]["content"]] == ["c1", "c2"]
    assert msgs["tool_choice"] == {"type": "tool", "name": "read_file",
                                   "disable_parallel_tool_use": True}
    assert msgs["tools"][0]["input_schema"] == TOOL["input_schema"]


def test_answers_translate_both_ways_with_stop_reasons_and_cache_tokens() -> None:
    chat = {"id": "chatcmpl-9", "model": "m", "choices": [{"index": 0, "finish_reason":
            "tool_calls", "message": {"role": "assistant", "content": "ok", "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "f", "arguments": '{"a": 1}'}}]}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 7,
                      "prompt_tokens_details": {"cached_tokens": 60}}}
    msg = chat_to_message(chat)
    assert msg["id"] == "msg_9" and msg["stop_reason"] == "tool_use"
    assert msg["content"] == [{"type": "text", "text": "ok"},
                              {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}}]
    assert msg["usage"] == {"input_tokens": 40, "output_tokens": 7,
                            "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0}
    back = message_to_chat(msg | {"usage": {"input_tokens": 40, "output_tokens": 7,
                                            "cache_read_input_tokens": 60,
                                            "cache_creation_input_tokens": 5}})
    assert back["choices"][0]["finish_reason"] == "tool_calls"
    assert back["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'
    assert back["usage"]["prompt_tokens"] == 105
    assert back["usage"]["prompt_tokens_details"] == {"cached_tokens": 60}
    for stop, finish in [("end_turn", "stop"), ("max_tokens", "length"),
                         ("stop_sequence", "stop"), ("refusal", "content_filter")]:
        assert message_to_chat({"stop_reason": stop})["choices"][0]["finish_reason"] == finish


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _events(data: bytes) -> list[tuple[str, Any]]:
    return [(k.decode(), v) for k, v in _Frames().feed(data)]


def _feed_bytewise(machine: ChatToMessages | MessagesToChat, data: bytes) -> bytes:
    # A frame may arrive split anywhere: one byte at a time is the worst case.
    return b"".join(machine.feed(data[i:i + 1]) for i in range(len(data)))


def test_chat_stream_becomes_messages_events_with_text_then_streamed_tool_call() -> None:
    base = {"id": "chatcmpl-1", "model": "m"}
    frames = [
        _sse(base | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
        _sse(base | {"choices": [{"index": 0, "delta": {"content": "Let me "}}]}),
        _sse(base | {"choices": [{"index": 0, "delta": {"content": "look."}}]}),
        _sse(base | {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "c1", "type": "function",
             "function": {"name": "read_file", "arguments": ""}}]}}]}),
        _sse(base | {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '{"path":'}}]}}]}),
        _sse(base | {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": ' "a.py"}'}}]}}]}),
        _sse(base | {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        _sse(base | {"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9}}),
        b"data: [DONE]\n\n",
    ]
    machine = ChatToMessages("m")
    out = _events(_feed_bytewise(machine, b"".join(frames)))
    kinds = [k for k, _ in out]
    assert kinds == ["message_start", "ping", "content_block_start", "content_block_delta",
                     "content_block_delta", "content_block_stop", "content_block_start",
                     "content_block_delta", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    assert machine.done
    assert out[2][1]["content_block"] == {"type": "text", "text": ""}
    assert out[6][1]["content_block"]["type"] == "tool_use" and out[6][1]["index"] == 1
    json_text = "".join(v["delta"]["partial_json"] for k, v in out[7:9])
    assert orjson.loads(json_text) == {"path": "a.py"}
    assert out[10][1]["delta"]["stop_reason"] == "tool_use"
    assert out[10][1]["usage"]["input_tokens"] == 50 and out[10][1]["usage"]["output_tokens"] == 9


def test_chat_stream_without_done_never_claims_message_stop() -> None:
    machine = ChatToMessages("m")
    out = machine.feed(_sse({"id": "x", "choices": [{"index": 0, "delta": {"content": "hi"}}]}))
    assert b"message_stop" not in out and not machine.done
    err = machine.feed(_sse({"error": {"message": "boom", "type": "server_error"}}))
    assert _events(err) == [("error", {"type": "error",
                                       "error": {"type": "api_error", "message": "boom"}})]


def _ev(kind: str, **fields: Any) -> bytes:
    payload = orjson.dumps({"type": kind, **fields})
    return b"event: " + kind.encode() + b"\ndata: " + payload + b"\n\n"


def test_messages_stream_becomes_chat_chunks_with_tool_arguments_and_usage() -> None:
    data = b"".join([
        _ev("message_start", message={"id": "msg_1", "model": "claude", "usage": {
            "input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 30}}),
        _ev("ping"),
        _ev("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        _ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "hm"}),
        _ev("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "s"}),
        _ev("content_block_stop", index=0),
        _ev("content_block_start", index=1, content_block={"type": "text", "text": ""}),
        _ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "Hi"}),
        _ev("content_block_stop", index=1),
        _ev("content_block_start", index=2, content_block={
            "type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}),
        _ev("content_block_delta", index=2, delta={"type": "input_json_delta",
                                                   "partial_json": '{"a"'}),
        _ev("content_block_delta", index=2, delta={"type": "input_json_delta",
                                                   "partial_json": ": 2}"}),
        _ev("content_block_stop", index=2),
        _ev("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 12}),
        _ev("message_stop"),
    ])
    machine = MessagesToChat("m", include_usage=True)
    out = _feed_bytewise(machine, data)
    assert out.endswith(b"data: [DONE]\n\n") and machine.done
    chunks = [v for _, v in _events(out) if v is not None]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hi"
    args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                   for c in chunks if c["choices"] and "tool_calls" in c["choices"][0]["delta"])
    assert orjson.loads(args) == {"a": 2}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"] == {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52,
                                   "prompt_tokens_details": {"cached_tokens": 30}}


def test_messages_stream_error_event_becomes_openai_error_without_done() -> None:
    machine = MessagesToChat("m", include_usage=False)
    out = machine.feed(_ev("error", error={"type": "overloaded_error", "message": "busy"}))
    assert orjson.loads(out[6:])["error"]["message"] == "busy"
    assert b"[DONE]" not in out and not machine.done


def test_an_assistant_turn_that_only_thought_keeps_a_string_content() -> None:
    chat = messages_to_chat({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "h", "signature": "s"}]},
        {"role": "user", "content": "well?"}]})
    assert chat["messages"][1] == {"role": "assistant", "content": ""}
