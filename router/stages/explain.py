"""`POST /laneway/explain` and `laneway explain FILE`: the decision, without any upstream call."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from policies.choose import Candidate
from router.context import RequestContext
from router.errors import InvalidRequest
from router.frontends.base import Frontend
from router.frontends.openai import invalid_request
from router.frontends.registry import FRONTENDS
from router.frontends.shapes import ExplainRequest
from router.runtime import Runtime


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
    try:
        request = ExplainRequest.model_validate(payload, strict=True)
    except ValidationError as exc:
        raise invalid_request(exc) from None
    path, body = request.path, request.body
    frontend = _frontend_for(path)
    frontend.parse(body)
    ctx = RequestContext(
        request_id="explain", endpoint=frontend.endpoint, body=body, headers=headers,
        tenant=tenant, started=time.perf_counter(), frontend=frontend,
        stream=bool(body.get("stream")), body_bytes=len(repr(body)),
        requested_model=body["model"],
    )
    chain = rt.chain  # its first stages, without the upstream call or any bookkeeping
    chain.classify.run(ctx, exact=True)
    if chain.feedback is not None:
        chain.feedback.run(ctx, dry_run=True)  # the arm and tuning, nothing counted
    chain.choose.run(ctx, dry_run=True)
    notes = ctx.notes
    assert ctx.decision is not None and notes is not None and notes.choice is not None
    tokens = {"before": 0, "after": 0, "trimmed": 0}
    scope = None
    chosen = notes.choice.model
    if chosen is not None:
        trim = chain.trim.fit(ctx, notes, chosen)
        tokens = {"before": trim.tokens_before, "after": trim.tokens_after,
                  "trimmed": trim.trimmed_tokens}
        scope = trim.scope
    return {
        "lane": ctx.decision.lane.value,
        "lane_source": ctx.decision.source,
        "reasons": list(ctx.decision.reasons),
        "model": chosen.name if chosen else None,
        "choice_reasons": list(notes.choice.reasons),
        "candidates": [_candidate(c) for c in notes.choice.candidates],
        "rejected": [_candidate(c) for c in notes.choice.rejected],
        "tokens": tokens,
        "completion_scope": scope,
        "policy": rt.policy.name,
        "tenant": tenant,  # a team key's tenant is its team's name
    }


def _frontend_for(path: str) -> Frontend:
    """`/v1/chat/completions` or `/chat/completions` (a trailing slash too): its front end."""
    p = path.split("?", 1)[0].rstrip("/")  # a query (Claude Code's ?beta=true) names no route
    for frontend in FRONTENDS:
        if p in frontend.paths:
            return frontend
    raise InvalidRequest(f"Unknown path {path[:100]!r}.", param="path")
