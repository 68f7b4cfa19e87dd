"""Stage 4, trim: the body each model is sent (policies/trim), laneway's edits only.

Two steps, because choosing needs the request's size after trimming: `measure` trims what
does not depend on the model (qa: system + newest turns; agentic: tool outputs), once and
remembered per small body; `run` fits it to one candidate (completions: rendered for its
FIM family, once per family) and renames the model. The body keeps the client's API.
"""

from __future__ import annotations

from policies.catalog import ModelSpec
from policies.lanes import Endpoint
from policies.trim import ContextTooLong, TrimResult, trim_agentic, trim_chat, trim_completion
from router.context import RequestContext
from router.errors import ContextLengthExceeded
from router.stages.notes import Notes


class Trim:
    def measure(self, ctx: RequestContext, notes: Notes) -> int:
        """The model-independent trim (kept in `notes.shared`); the input's token estimate."""
        remembered = notes.remembered
        shared = remembered.trim
        if shared is None:
            shared = _shared_trim(ctx, notes)
            if shared is not None and shared.estimated:
                # The figures only (a repeat, e.g. every cache hit, skips trimming): holding
                # the parsed body too would keep up to 1,024 of them alive.
                remembered.trim = shared.with_body({})
        else:  # the same figures, with this request's own body object
            shared = shared.with_body(ctx.body)
        notes.shared = shared
        if shared is not None:
            return shared.tokens_after
        return min(ctx.body_bytes // 4, notes.budget.input_tokens)

    def run(self, ctx: RequestContext, model: ModelSpec) -> None:
        """`ctx.upstream_body` and the token figures for sending the request to `model`."""
        notes = ctx.notes
        assert notes is not None
        trim = self.fit(ctx, notes, model)
        body = dict(trim.body)
        body["model"] = model.upstream_model
        ctx.upstream_body = body
        ctx.tokens_before, ctx.trimmed_tokens = trim.tokens_before, trim.trimmed_tokens
        ctx.input_tokens, ctx.scope = trim.tokens_after, trim.scope

    @staticmethod
    def fit(ctx: RequestContext, notes: Notes, model: ModelSpec) -> TrimResult:
        trim = notes.shared
        if trim is not None:
            return trim
        family = model.fim
        by_family = notes.by_family
        if by_family is None:
            by_family = notes.by_family = {}
        trim = by_family.get(family)
        if trim is None:
            trim = by_family[family] = trim_completion(
                ctx.endpoint.value, ctx.body, notes.budget, family, notes.exact)
        return trim


def _shared_trim(ctx: RequestContext, notes: Notes) -> TrimResult | None:
    lane = ctx.lane
    endpoint = ctx.endpoint
    if lane == "completion":
        # Completions render for the chosen model's FIM family: trimmed per candidate.
        return None if endpoint in (Endpoint.COMPLETIONS, Endpoint.CHAT) else _untouched(ctx)
    if endpoint is Endpoint.EMBEDDINGS:
        return _untouched(ctx)
    try:
        if lane == "agentic" and endpoint in (Endpoint.CHAT, Endpoint.RESPONSES):
            return trim_agentic(endpoint.value, ctx.body, notes.budget)
        if endpoint is Endpoint.CHAT:
            return trim_chat(ctx.body, notes.budget)
    except ContextTooLong as exc:
        raise ContextLengthExceeded(
            f"This request is too long for every model that serves the '{lane}' lane: {exc}.",
            param="messages",
        ) from None
    return _untouched(ctx)


def _untouched(ctx: RequestContext) -> TrimResult:
    n = ctx.body_bytes // 4
    return TrimResult(ctx.body, n, n, 0, None, None)
