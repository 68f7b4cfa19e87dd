"""The decisions for one request, before any upstream call: lane, candidates, trimmed bodies.

Shared by the pipeline and by `/laneway/explain` (which plans with `dry_run=True` and stops).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from policies.affinity import session_key
from policies.catalog import ModelSpec
from policies.choose import Choice, Needs
from policies.lanes import Endpoint
from policies.policy import LanePolicy
from policies.trim import (
    ContextTooLong,
    TrimBudget,
    TrimResult,
    trim_agentic,
    trim_chat,
    trim_completion,
)
from router.context import RequestContext
from router.errors import ContextLengthExceeded, ModelNotFound, NoHealthyModel
from router.runtime import Runtime


@dataclass(eq=False)
class Plan:
    lane: LanePolicy
    choice: Choice
    needs: Needs
    budget: TrimBudget
    shared: TrimResult | None  # a model-independent trim (qa, agentic), done once
    variant: str = ""  # what besides the client's body decides the trimmed body (cache key)
    exact: bool = False  # count small prompts exactly (explain), not by their ceiling
    by_family: dict[str | None, TrimResult] = field(default_factory=dict)

    def body_for(self, ctx: RequestContext, model: ModelSpec) -> tuple[dict[str, Any], TrimResult]:
        """The body to send `model`: trimmed (rendered for its FIM family) and renamed."""
        trim = self.shared
        if trim is None:
            family = model.fim
            trim = self.by_family.get(family)
            if trim is None:
                trim = trim_completion(ctx.endpoint.value, ctx.body, self.budget, family,
                                       self.exact)
                self.by_family[family] = trim
        body = dict(trim.body)
        body["model"] = model.upstream_model
        return body, trim


def plan(rt: Runtime, ctx: RequestContext, *, dry_run: bool = False) -> Plan:
    memo = rt.lanes.recall(ctx.endpoint, ctx.body, ctx.headers, ctx.body_bytes)
    ctx.decision = decision = memo.decision
    lane = decision.lane.value
    lp = rt.policy.lane(lane)
    budget = rt.budgets[lane]
    variant = rt.variants.get(lane, "")
    arm_model = None
    if rt.feedback is not None:  # the id, the experiment arm, the user's own tuning
        budget, variant, arm_model = rt.feedback.shape(ctx, lane, budget, variant, dry_run)
    shared = memo.trim
    if shared is None:
        shared = _shared_trim(ctx, lane, budget)
        if shared is not None and shared.estimated:
            # The figures only (a repeat, e.g. every cache hit, skips trimming): holding
            # the parsed body too would keep up to 1,024 of them alive.
            memo.trim = shared.with_body({})
    else:  # the same figures, with this request's own body object
        shared = shared.with_body(ctx.body)
    body = ctx.body
    estimate = shared.tokens_after if shared else min(ctx.body_bytes // 4, budget.input_tokens)
    needs = Needs(
        tools=bool(body.get("tools") or body.get("functions")),
        fim=lane == "completion" and ctx.endpoint is Endpoint.COMPLETIONS,
        input_tokens=estimate,
        output_tokens=_max_output(body),
        session=session_key(body, ctx.headers) if lp.affinity else None,
    )
    name = ctx.requested_model
    if name == "auto" and arm_model is not None:
        choice = rt.chooser.pinned(arm_model, lane, needs, dry_run=dry_run)
    elif name == "auto":
        choice = rt.chooser.choose(lane, needs, dry_run=dry_run)
    elif name in rt.config.by_name:
        choice = rt.chooser.pinned(name, lane, needs, dry_run=dry_run)
    else:
        raise ModelNotFound(
            f"The model '{name}' does not exist. Use 'auto' or one of: "
            + ", ".join(m.name for m in rt.config.models),
            param="model",
        )
    if not choice.candidates and not dry_run:
        headers = {}
        if choice.retry_after_s is not None:
            headers["retry-after"] = str(max(1, round(choice.retry_after_s)))
        raise NoHealthyModel(
            f"No model can serve this '{lane}' request: " + "; ".join(choice.reasons) + ".",
            headers=headers,
        )
    return Plan(lp, choice, needs, budget, shared, variant, exact=dry_run)


def _shared_trim(ctx: RequestContext, lane: str, budget: TrimBudget) -> TrimResult | None:
    if lane == "completion":
        # Completions render for the chosen model's FIM family: trimmed per candidate.
        return None if ctx.endpoint in (Endpoint.COMPLETIONS, Endpoint.CHAT) else _untouched(ctx)
    if ctx.endpoint is Endpoint.EMBEDDINGS:
        return _untouched(ctx)
    try:
        if lane == "agentic" and ctx.endpoint in (Endpoint.CHAT, Endpoint.RESPONSES):
            return trim_agentic(ctx.endpoint.value, ctx.body, budget)
        if ctx.endpoint is Endpoint.CHAT:
            return trim_chat(ctx.body, budget)
    except ContextTooLong as exc:
        raise ContextLengthExceeded(
            f"This request is too long for every model that serves the '{lane}' lane: {exc}.",
            param="messages",
        ) from None
    return _untouched(ctx)


def _untouched(ctx: RequestContext) -> TrimResult:
    n = ctx.body_bytes // 4
    return TrimResult(ctx.body, n, n, 0, None, None)


def _max_output(body: dict[str, Any]) -> int:
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return 0
