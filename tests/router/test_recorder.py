"""The recorder: what one request adds to the metrics, exactly once, whatever its ending."""

from __future__ import annotations

import asyncio
import time

import pytest
from recorder_kit import answer, context, runtime, value
from starlette.responses import Response

from policies.breaker import BreakerBoard
from policies.lanes import Lane
from policies.policy import load_policy
from router.stages.record import RecordAfter, describe, sync_model_up


def test_inflight_rises_and_falls_once_even_if_recorded_twice() -> None:
    rt = runtime()
    ctx = context(rt)
    rt.record.begin(ctx)
    rt.record.begin(ctx)
    assert value(rt, "laneway_inflight_requests", lane="qa") == 1
    rt.record.run(ctx, answer(10, 5), True)
    rt.record.run(ctx, answer(10, 5), True)
    assert value(rt, "laneway_inflight_requests", lane="qa") == 0
    assert value(rt, "laneway_requests_total", lane="qa", model="small", status="200",
                 cache="miss") == 1


def test_a_request_refused_before_its_plan_does_not_touch_inflight() -> None:
    rt = runtime()
    ctx = context(rt, status=404)
    rt.record.run(ctx)
    assert value(rt, "laneway_inflight_requests", lane="qa") == 0
    assert value(rt, "laneway_requests_total", lane="qa", model="small", status="404",
                 cache="miss") == 1


def test_cost_tokens_and_savings_of_an_upstream_answer() -> None:
    rt = runtime()
    ctx = context(rt, trimmed_tokens=500)
    rt.record.begin(ctx)
    rt.record.run(ctx, answer(1000, 100), True)
    cost = (1000 * 0.10 + 100 * 0.40) / 1e6
    # The yardstick gets the untrimmed prompt: trimming is part of what laneway saves.
    largest = (1500 * 1.00 + 100 * 4.00) / 1e6
    assert value(rt, "laneway_cost_usd_total", lane="qa", model="small") == pytest.approx(cost)
    assert value(rt, "laneway_cost_saved_usd_total", lane="qa") == pytest.approx(largest - cost)
    assert value(rt, "laneway_tokens_total", lane="qa", model="small", kind="input") == 1000
    assert value(rt, "laneway_tokens_total", lane="qa", model="small", kind="output") == 100
    assert value(rt, "laneway_tokens_total", lane="qa", model="small", kind="trimmed") == 500


def test_a_cache_hit_costs_nothing_and_saves_the_whole_largest_model_cost() -> None:
    rt = runtime()
    ctx = context(rt, cache="l2")
    rt.record.begin(ctx)
    rt.record.run(ctx, answer(1000, 100), True)
    assert value(rt, "laneway_cost_usd_total", lane="qa", model="small") == 0
    assert value(rt, "laneway_tokens_total", lane="qa", model="small", kind="input") == 0
    assert value(rt, "laneway_cost_saved_usd_total", lane="qa") == pytest.approx(
        (1000 * 1.00 + 100 * 4.00) / 1e6
    )


def test_a_cut_stream_was_billed_but_saved_nothing() -> None:
    rt = runtime()
    ctx = context(rt, stream=True, input_tokens=2000, status=499)
    rt.record.begin(ctx)
    chunk = b'data: {"choices":[{"index":0,"delta":{"content":"' + b"x" * 400 + b'"}}]}\n\n'
    rt.record.run(ctx, [chunk], False)
    assert ctx.output_tokens == 100  # ~4 characters a token
    assert value(rt, "laneway_cost_usd_total", lane="qa", model="small") == pytest.approx(
        (2000 * 0.10 + 100 * 0.40) / 1e6
    )
    assert value(rt, "laneway_cost_saved_usd_total", lane="qa") == 0
    assert value(rt, "laneway_inflight_requests", lane="qa") == 0


def test_timings_land_in_their_lane() -> None:
    rt = runtime()
    ctx = context(rt, Lane.COMPLETION, ttft_s=0.12, overhead_s=0.0004)
    rt.record.begin(ctx)
    rt.record.run(ctx, answer(10, 5), True)
    assert value(rt, "laneway_time_to_first_token_seconds_bucket", lane="completion",
                 model="small", le="0.125") == 1
    assert value(rt, "laneway_time_to_first_token_seconds_bucket", lane="completion",
                 model="small", le="0.1") == 0
    assert value(rt, "laneway_overhead_seconds_bucket", lane="completion", le="0.0005") == 1
    assert value(rt, "laneway_request_duration_seconds_count", lane="completion",
                 model="small") == 1


def test_model_up_follows_the_breaker_of_attempted_models() -> None:
    rt = runtime()
    board: BreakerBoard = rt.chooser.breakers
    for _ in range(board.settings.failures):
        board.failure("small", time.monotonic(), "connect")
    ctx = context(rt, attempts=[("small", "connect"), ("large", "ok")])
    rt.metrics.set_model_up("small", True)
    rt.metrics.set_model_up("large", True)
    rt.record.run(ctx, answer(1, 1), True)
    assert value(rt, "laneway_model_up", model="small") == 0
    assert value(rt, "laneway_model_up", model="large") == 1
    board.success("small")
    sync_model_up(rt.metrics, rt.chooser, "small")
    assert value(rt, "laneway_model_up", model="small") == 1


def test_describe_publishes_lanes_targets_and_breaker_state() -> None:
    rt = runtime()
    rt.policy = load_policy("default")
    for _ in range(rt.chooser.breakers.settings.failures):
        rt.chooser.breakers.failure("large", time.monotonic(), "timeout")
    rt.metrics.model_up.labels("large").set(1)  # as a fresh Runtime.build leaves it
    describe(rt)
    assert value(rt, "laneway_ttft_target_seconds", lane="completion") == 0.3
    assert value(rt, "laneway_ttft_target_seconds", lane="agentic") == 8.0
    assert value(rt, "laneway_model_info", model="small", tier="small", lane="qa") == 1
    assert value(rt, "laneway_model_up", model="large") == 0  # ejected before the reload
    assert value(rt, "laneway_model_up", model="small") == 1


def test_a_response_records_its_request_after_the_last_byte() -> None:
    rt = runtime()
    ctx = context(rt)
    rt.record.begin(ctx)
    response = Response(b"{}", media_type="application/json",
                        background=RecordAfter(rt.record, ctx, answer(10, 5), True))
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        # Not recorded yet while the answer goes out.
        assert value(rt, "laneway_inflight_requests", lane="qa") == 1
        sent.append(message)

    asyncio.run(response({"type": "http"}, receive, send))
    assert sent[-1]["type"] == "http.response.body"
    assert value(rt, "laneway_inflight_requests", lane="qa") == 0
    assert value(rt, "laneway_tokens_total", lane="qa", model="small", kind="output") == 5
