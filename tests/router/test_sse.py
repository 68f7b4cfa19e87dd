import orjson

from policies.lanes import Endpoint
from router.upstreams.sse import last_frame, stream_ended_cleanly


def _event(kind: str, payload: dict) -> bytes:
    return f"event: {kind}\n".encode() + b"data: " + orjson.dumps(payload) + b"\n\n"


def test_chat_stream_ends_with_done_even_split_across_chunks():
    chunks = [b'data: {"choices":[]}\n\n', b"data: [DO", b"NE]\n\n"]
    assert stream_ended_cleanly(chunks, Endpoint.CHAT)
    assert not stream_ended_cleanly(chunks[:1], Endpoint.CHAT)


def test_done_inside_content_is_not_the_end():
    chunks = [b'data: {"delta": "data: [DONE]"}\n\n']
    assert not stream_ended_cleanly(chunks, Endpoint.CHAT)


def test_large_final_responses_event_counts_as_clean_end():
    big = {"type": "response.completed", "response": {"output": [{"text": "x" * 5000}]}}
    chunks = [_event("response.output_text.delta", {"delta": "hi"}), _event(big["type"], big)]
    assert stream_ended_cleanly(chunks, Endpoint.RESPONSES)
    assert last_frame(chunks).startswith(b"event: response.completed")


def test_responses_stream_cut_after_a_delta_is_not_clean():
    chunks = [_event("response.created", {"type": "response.created"}),
              _event("response.output_text.delta", {"delta": "response.completed"})]
    assert not stream_ended_cleanly(chunks, Endpoint.RESPONSES)


def test_responses_frame_without_event_line_is_judged_by_its_type():
    done = b'data: {"type":"response.completed","response":{}}\n\n'
    delta = b'data: {"type":"response.output_text.delta","delta":"response.completed"}\n\n'
    assert stream_ended_cleanly([delta, done], Endpoint.RESPONSES)
    assert not stream_ended_cleanly([done, delta], Endpoint.RESPONSES)
