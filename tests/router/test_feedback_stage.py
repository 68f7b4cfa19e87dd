"""The feedback stage's byte-level id stamping and its reading of a completion's text."""

from __future__ import annotations

from typing import Any

from router.stages.feedback import FeedbackNote, FeedbackStage, completion_text


class Ctx:  # the one field `stamp` reads
    def __init__(self, cid: str) -> None:
        self.feedback = FeedbackNote(cid, "u")


def stamp(ctx: Any, data: bytes) -> bytes:
    return FeedbackStage.stamp(ctx, data)


def test_the_upstream_id_becomes_laneways_in_every_chunk_and_nothing_else_changes() -> None:
    ctx = Ctx("cmpl-lw1")
    first = (b'data: {"id":"chatcmpl-9","choices":[{"delta":{"tool_calls":'
             b'[{"id":"call_1"}]}}]}\n\n')
    later = b'data: {"id":"chatcmpl-9","choices":[{"delta":{"content":"\\"id\\":\\"x\\""}}]}\n\n'
    assert stamp(ctx, first) == first.replace(b"chatcmpl-9", b"cmpl-lw1")
    assert stamp(ctx, later) == later.replace(b"chatcmpl-9", b"cmpl-lw1")
    body = b'{"id": "cmpl-abc", "object": "text_completion", "choices": []}'
    assert stamp(Ctx("cmpl-lw2"), body) == body.replace(b"cmpl-abc", b"cmpl-lw2")
    assert stamp(Ctx("cmpl-lw3"), b"data: [DONE]\n\n") == b"data: [DONE]\n\n"


def test_completion_text_reads_plain_and_streamed_answers() -> None:
    plain = b'{"id":"x","choices":[{"index":0,"text":"return 1"},{"index":1,"text":"no"}]}'
    assert completion_text([plain], streamed=False) == "return 1"
    stream = [b'data: {"choices":[{"index":0,"text":"ret"}]}\n\n',
              b'data: {"choices":[{"index":0,"delta":{"content":"urn"}}]}\n\n',
              b"data: [DONE]\n\n"]
    assert completion_text(stream, streamed=True) == "return"
    assert completion_text([b"not json"], streamed=False) == ""
