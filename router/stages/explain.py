"""`POST /laneway/explain` and `laneway explain FILE`: the decision, without any upstream call."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from policies.choose import Candidate
from router.context import RequestContext
from router.errors import InvalidRequest
from router.http.body import validate
from router.runtime import Runtime
from router.stages.plan import plan
from router.upstreams.openai import endpoint_for_path


def _candidate(c: Candidate) -> dict[str, Any]:
    return {
        "model": c.model.name,
        "tier": c.model.tier.name.lower(),
        "predicted_ttft_ms": None if c.predicted_ttft_ms is None else round(c.predicted_ttft_ms, 1),
        "predicted_cost_usd": round(c.predicted_cost_usd, 8),
        "within_target": c.within_target,
        "healthy": c.healthy,
        "reasons": list(c.reasons),
        # Learned acceptance (decayed counts): null where the lane does not use it or no
        # feedback has arrived yet.
        "acceptance": None if c.acceptance is None else {
            "rate": round(c.acceptance.mean, 4),
            "shown": round(c.acceptance.shown, 1),
        },
    }


def explain(rt: Runtime, payload: dict[str, Any], headers: Mapping[str, str],
            tenant: str) -> dict[str, Any]:
    path = payload.get("path", "/v1/chat/completions")
    body = payload.get("body")
    if not isinstance(path, str):
        raise InvalidRequest("'path' must be a string such as '/v1/chat/completions'.",
                             param="path")
    if not isinstance(body, dict):
        raise InvalidRequest("'body' must be the request body object.", param="body")
    endpoint = endpoint_for_path(path)
    if endpoint is None:
        raise InvalidRequest(f"Unknown path {path[:100]!r}.", param="path")
    validate(endpoint, body)
    ctx = RequestContext(
        request_id="explain", endpoint=endpoint, body=body, headers=headers, tenant=tenant,
        started=time.perf_counter(), stream=bool(body.get("stream")),
        body_bytes=len(repr(body)), requested_model=body["model"],
    )
    p = plan(rt, ctx, dry_run=True)
    assert ctx.decision is not None
    tokens = {"before": 0, "after": 0, "trimmed": 0}
    scope = None
    chosen = p.choice.model
    if chosen is not None:
        _, trim = p.body_for(ctx, chosen)
        tokens = {"before": trim.tokens_before, "after": trim.tokens_after,
                  "trimmed": trim.trimmed_tokens}
        scope = trim.scope
    return {
        "lane": ctx.decision.lane.value,
        "lane_source": ctx.decision.source,
        "reasons": list(ctx.decision.reasons),
        "model": chosen.name if chosen else None,
        "choice_reasons": list(p.choice.reasons),
        "candidates": [_candidate(c) for c in p.choice.candidates],
        "rejected": [_candidate(c) for c in p.choice.rejected],
        "tokens": tokens,
        "completion_scope": scope,
        "policy": rt.policy.name,
    }
