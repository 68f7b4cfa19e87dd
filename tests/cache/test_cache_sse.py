"""The one SSE module (cache/sse.py): framing, end markers, events and usage, whatever the
line ends and wherever TCP cut the stream."""

import orjson
import pytest

from cache.sse import EventSplitter, LineGate, ended_cleanly, events, last_event, usage_of


def _event(kind: str, payload: dict, eol: bytes = b"\n") -> bytes:
    return (f"event: {kind}".encode() + eol + b"data: " + orjson.dumps(payload) + eol + eol)


def _split_everywhere(stream: bytes) -> list[list[bytes]]:
    return [[stream[:i], stream[i:]] for i in range(1, len(stream))]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_framing_ends_cleanly_with_done_wherever_tcp_cuts_it(eol: bytes):
    stream = b"data: " + b'{"choices":[]}' + eol + eol + b"data: [DONE]" + eol + eol
    for chunks in _split_everywhere(stream):
        assert ended_cleanly(chunks), chunks
    assert not ended_cleanly([stream[: stream.index(b"data: [DONE]")]])


@pytest.mark.parametrize("eol", [b"\n", b"\r\n"])
def test_each_apis_end_marker(eol: bytes):
    completed = {"type": "response.completed", "response": {"output": [{"text": "x" * 5000}]}}
    assert ended_cleanly([_event("response.output_text.delta", {"delta": "hi"}, eol),
                          _event("response.completed", completed, eol)])
    assert ended_cleanly([_event("message_stop", {"type": "message_stop"}, eol)])
    assert not ended_cleanly([_event("message_delta", {"type": "message_delta"}, eol)])
    # Judged by the JSON's type when there is no `event:` line.
    done = b'data: {"type":"response.completed","response":{}}' + eol + eol
    delta = b'data: {"type":"response.output_text.delta","delta":"response.completed"}' + eol * 2
    assert ended_cleanly([delta, done])
    assert not ended_cleanly([done, delta])


def test_done_inside_content_is_not_the_end():
    assert not ended_cleanly([b'data: {"delta": "data: [DONE]"}\n\n'])


def test_a_large_final_event_over_many_chunks_is_found_from_the_end():
    big = _event("response.completed", {"type": "response.completed", "response": {
        "output": [{"text": "y" * 200_000}]}}, b"\r\n")
    chunks = [_event("response.created", {"type": "response.created"}, b"\r\n")]
    chunks += [big[i : i + 1000] for i in range(0, len(big), 1000)]
    last = last_event(chunks)
    assert last is not None and last.name == "response.completed" and last.ends_stream


def test_comments_event_lines_and_multi_line_data():
    stream = (b": keep-alive\r\n\r\nevent: note\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n"
              b":ping\r\ndata: {\"b\": 2}\r\n\r\n")
    for chunks in _split_everywhere(stream):
        splitter = EventSplitter()
        got = [e for c in chunks for e in splitter.feed(c)] + splitter.flush()
        payloads = [e.json() for e in got if e.data]
        assert payloads == [{"a": 1}, {"b": 2}], chunks
        assert [e.name for e in got if e.data] == ["note", None]
        assert all(b"\r" not in e.raw for e in got)
    assert list(events([stream])) == [{"a": 1}, {"b": 2}]


def test_usage_and_text_from_a_crlf_stream():
    stream = (b'data: {"choices":[{"delta":{"content":"abcd"}}]}\r\n\r\n'
              b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\r\n\r\n'
              b"data: [DONE]\r\n\r\n")
    usage, chars = usage_of([stream[:30], stream[30:]], streamed=True)
    assert usage == {"prompt_tokens": 3, "completion_tokens": 1} and chars == 4


def test_a_cut_inside_a_line_leaves_no_half_line_before_what_follows():
    gate = LineGate()
    out = gate.feed(b'data: {"choices":[]}\r\n\r\nevent: x\r\ndata: {"a"')
    assert out == b'data: {"choices":[]}\r\n\r\nevent: x\r\n'
    sent = out + gate.cut() + b'data: {"error": {}}\n\n'
    splitter = EventSplitter()
    got = splitter.feed(sent) + splitter.flush()
    assert [(e.name, e.json()) for e in got if e.data] == [(None, {"choices": []}),
                                                            (None, {"error": {}})]


def test_whole_lines_pass_at_once_and_a_clean_end_keeps_every_byte():
    gate = LineGate()
    assert gate.feed(b"data: 1\n\n") == b"data: 1\n\n"
    assert gate.cut() == b""
    assert gate.feed(b"data: [DO") == b"" and gate.feed(b"NE]") == b""
    assert gate.rest() == b"data: [DONE]"


def test_a_line_longer_than_the_hold_passes_and_a_cut_inside_it_ends_it():
    gate = LineGate(hold=8)
    assert gate.feed(b"data: [1,") == b"data: [1,"  # 9 bytes: not held
    assert gate.feed(b"2]") == b""  # held again, within the bound
    assert gate.cut() == b"\n\n"  # the open line and its event end before what follows


def test_keep_alive_comments_after_the_end_marker_do_not_hide_it():
    assert ended_cleanly([b"data: {}\r\n\r\ndata: [DONE]\r\n\r\n", b": keep-alive\r\n\r\n"])
    assert not ended_cleanly([b"data: {}\n\n", b": keep-alive\n\n"])
    assert last_event([b": only a comment\n\n"]) is None
