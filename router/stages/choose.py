"""Stage 2, choose: the candidates, in the order to try them (policies/choose).

The lane's policy ranks the models that can take the request (its size after the lane's
trim, its tools, its output ceiling); a pinned model is the only candidate. No candidate:
the request is refused here, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable

from policies.affinity import session_key
from policies.ceiling import output_ceiling
from policies.choose import Choice, Chooser, Needs
from policies.lanes import Endpoint
from router.context import RequestContext
from router.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    ModelNotFound,
    NoHealthyModel,
    PermissionDenied,
)
from router.limits.budget import Team
from router.stages.trim import Trim


class Choose:
    def __init__(self, chooser: Chooser, names: frozenset[str], listing: str, trim: Trim,
                 teams: dict[str, Team] | None = None,
                 alias: Callable[[str], str | None] = lambda name: None) -> None:
        self.chooser = chooser
        self.alias = alias  # a client's model name -> a configured model or 'auto' (config)
        self.names = names  # the configured models' names
        self.listing = listing  # the same, for the 404's message
        self.trim = trim
        # Teams with a model list, by tenant (a team key's tenant is its team's name).
        self.limited = {name: t for name, t in (teams or {}).items() if t.models is not None}

    def run(self, ctx: RequestContext, dry_run: bool = False) -> None:
        notes = ctx.notes
        assert notes is not None
        lane = ctx.lane
        body = ctx.body
        notes.needs = needs = Needs(
            tools=bool(body.get("tools") or body.get("functions")),
            fim=lane == "completion" and ctx.endpoint is Endpoint.COMPLETIONS,
            input_tokens=self.trim.measure(ctx, notes),
            output_tokens=output_ceiling(body),
            session=session_key(body, ctx.headers, ctx.tenant) if notes.lane.affinity else None,
            stream=ctx.stream,
        )
        name = ctx.requested_model
        if name != "auto" and name not in self.names:
            name = self.alias(name) or name  # e.g. claude-sonnet-4-5 -> auto
        if self.limited:
            self._within_team(ctx.tenant, name, needs)
        if name == "auto" and notes.arm_model is not None:  # an experiment arm's model
            choice = self.chooser.pinned(notes.arm_model, lane, needs, dry_run=dry_run)
        elif name == "auto":
            choice = self.chooser.choose(lane, needs, dry_run=dry_run)
        elif name in self.names:
            choice = self.chooser.pinned(name, lane, needs, dry_run=dry_run)
        else:
            raise ModelNotFound(
                f"The model '{name}' does not exist. Use 'auto' or one of: {self.listing}",
                param="model",
            )
        if not choice.candidates and not dry_run:
            raise _refusal(lane, choice)
        notes.choice = choice


    def _within_team(self, tenant: str, name: str, needs: Needs) -> None:
        team = self.limited.get(tenant)
        if team is None or team.models is None:
            return
        needs.allowed = team.models  # auto, and a pin's fallbacks, stay within the list
        if name in self.names and name not in team.models:
            raise PermissionDenied(
                f"This key's team may not use the model '{name}'. Use 'auto' or one of: "
                + ", ".join(sorted(team.models)), param="model",
            )


def _refusal(lane: str, choice: Choice) -> InvalidRequest | NoHealthyModel:
    """Why nothing can serve the request: its own doing (400), or for now (503, retry-after)."""
    why = f"No model can serve this '{lane}' request: " + "; ".join(choice.reasons) + "."
    if choice.retry_after_s is None and choice.too_long:
        return ContextLengthExceeded(why, param="messages")
    if choice.retry_after_s is None and choice.unfit:
        return InvalidRequest(why, code="no_model_fits")
    # Ejected models come back; a lane without models may get one on the next reload.
    retry = choice.retry_after_s if choice.retry_after_s is not None else 30.0
    return NoHealthyModel(why, headers={"retry-after": str(max(1, round(retry)))})
