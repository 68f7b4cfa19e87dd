"""Shared by the recorder and access-line tests: a stand-in runtime and a request context."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import orjson

from policies.breaker import BreakerBoard
from policies.lanes import Endpoint, Lane, LaneDecision
from router.config import parse
from router.context import RequestContext
from router.frontends.openai import CHAT
from router.observe.metrics import Metrics
from router.stages.record import Record

MODELS = [
    {"name": "small", "api_base": "http://up/v1", "tier": "small",
     "price_per_mtok": {"input": 0.10, "output": 0.40}},
    {"name": "large", "api_base": "http://up/v1", "tier": "large",
     "price_per_mtok": {"input": 1.00, "output": 4.00}},
]


def runtime(log_prompts: bool = False) -> Any:
    # The recorder reads only these parts of a Runtime.
    cfg = parse({"server": {"log_prompts": log_prompts}, "models": MODELS})
    rt = SimpleNamespace(
        config=cfg, metrics=Metrics(), largest=cfg.by_name["large"],
        chooser=SimpleNamespace(breakers=BreakerBoard()),
        limiter=SimpleNamespace(charge=lambda tenant, tokens: None),
    )
    rt.record = Record(rt.metrics, rt.limiter, rt.chooser, rt.largest, log_prompts)
    return rt


def context(rt: Any, lane: Lane = Lane.QA, **kw: Any) -> RequestContext:
    ctx = RequestContext(
        request_id="r1", endpoint=Endpoint.CHAT, tenant="t-abc", started=time.perf_counter(),
        body={"model": "auto", "messages": [{"role": "user", "content": "secret plan"}]},
        headers={"authorization": "Bearer sk-live-123"}, frontend=CHAT,
    )
    ctx.decision = LaneDecision(lane, ("chat without tools",), "shape")
    ctx.model = rt.config.by_name["small"]
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def answer(prompt_tokens: int, completion_tokens: int) -> list[bytes]:
    return [orjson.dumps({"choices": [], "usage": {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens}})]


def value(rt: Any, name: str, **labels: str) -> float:
    v = rt.metrics.registry.get_sample_value(name, labels)
    return 0.0 if v is None else v
