"""The access line: one JSON object per request, no keys, prompts only when asked for."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from recorder_kit import answer, context, runtime

from router.observe import logline

Read = Callable[[], tuple[list[dict[str, Any]], str]]


@pytest.fixture
def access() -> Iterator[Read]:
    """Access lines go through the real writer thread; read() flushes it and parses them."""
    out = io.BytesIO()
    log = logline.AccessLog(out)
    closed = False

    def read() -> tuple[list[dict[str, Any]], str]:
        nonlocal closed
        if not closed:
            log.close()
            closed = True
        text = out.getvalue().decode()
        return [orjson.loads(x) for x in text.splitlines()], text

    yield read
    read()


def test_one_line_with_what_an_operator_needs(access: Read) -> None:
    rt = runtime()
    ctx = context(rt, trimmed_tokens=7, ttft_s=0.25, attempts=[("small", "ok")])
    rt.record.begin(ctx)
    rt.record.run(ctx, answer(120, 30), True)
    (line,), raw = access()
    assert line["request_id"] == "r1" and line["tenant"] == "t-abc"
    assert line["lane"] == "qa" and line["reasons"] == ["chat without tools"]
    assert line["model"] == "small" and line["cache"] == "miss" and line["status"] == 200
    assert (line["tokens_in"], line["tokens_trimmed"], line["tokens_out"]) == (120, 7, 30)
    assert line["cost_usd"] == pytest.approx((120 * 0.10 + 30 * 0.40) / 1e6)
    assert line["saved_usd"] > 0
    assert line["ttft_ms"] == 250.0 and line["duration_ms"] >= 0
    assert line["attempts"] == [{"model": "small", "outcome": "ok"}]
    assert "prompt" not in line
    assert "sk-live-123" not in raw and "secret plan" not in raw


def test_prompts_only_when_enabled(access: Read) -> None:
    rt = runtime(log_prompts=True)
    rt.record.run(context(rt), answer(1, 1), True)
    (line,), raw = access()
    assert line["prompt"] == {"messages": [{"role": "user", "content": "secret plan"}]}
    assert "sk-live-123" not in raw  # headers are never logged


def test_closing_restores_the_logger() -> None:
    before = (logline.ACCESS.level, logline.ACCESS.propagate, list(logline.ACCESS.handlers))
    logline.AccessLog(io.BytesIO()).close()
    after = (logline.ACCESS.level, logline.ACCESS.propagate, list(logline.ACCESS.handlers))
    assert after == before


def test_nothing_is_built_when_the_logger_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> dict[str, Any]:
        raise AssertionError("built a line nobody reads")

    monkeypatch.setattr(logline, "fields", boom)
    level = logline.ACCESS.level
    assert logline.open_access_log(enabled=False) is None
    try:
        rt = runtime()
        rt.record.run(context(rt), answer(1, 1), True)
    finally:
        logline.ACCESS.setLevel(level)


def test_configured_handlers_get_ordinary_records(caplog: pytest.LogCaptureFixture) -> None:
    # An operator's own logging setup (here pytest's capture) sees the same JSON line.
    rt = runtime()
    with caplog.at_level(logging.INFO, logger="laneway.access"):
        rt.record.run(context(rt), answer(3, 4), True)
    (rec,) = [r for r in caplog.records if r.name == "laneway.access"]
    assert orjson.loads(rec.getMessage())["tokens_out"] == 4


class _Signalling(io.BytesIO):
    """A stream that says when the writer thread has written a batch."""

    def __init__(self) -> None:
        super().__init__()
        self.wrote = threading.Event()

    def write(self, data: Any) -> int:
        n = super().write(data)
        self.wrote.set()
        return n


def test_lines_after_a_written_batch_still_come_out_in_order() -> None:
    out = _Signalling()
    log = logline.AccessLog(out)
    rt = runtime()
    try:
        rt.record.run(context(rt, request_id="a"), answer(1, 1), True)
        assert out.wrote.wait(5)  # the first batch is out; the writer keeps going
        for rid in ("b", "c"):
            rt.record.run(context(rt, request_id=rid), answer(1, 1), True)
    finally:
        log.close()
    ids = [orjson.loads(x)["request_id"] for x in out.getvalue().splitlines()]
    assert ids == ["a", "b", "c"]
