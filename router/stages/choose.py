"""Stage 2, choose: the candidates, in the order to try them (policies/choose).

The lane's policy ranks the models that can take the request (its size after the lane's
trim, its tools, its output ceiling); a pinned model is the only candidate. No candidate:
the request is refused here, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from policies.affinity import session_key
from policies.choose import Chooser, Needs
from policies.lanes import Endpoint
from router.context import RequestContext
from router.errors import ModelNotFound, NoHealthyModel
from router.stages.trim import Trim


class Choose:
    def __init__(self, chooser: Chooser, names: frozenset[str], listing: str, trim: Trim) -> None:
        self.chooser = chooser
        self.names = names  # the configured models' names
        self.listing = listing  # the same, for the 404's message
        self.trim = trim

    def run(self, ctx: RequestContext, dry_run: bool = False) -> None:
        notes = ctx.notes
        assert notes is not None
        lane = ctx.lane
        body = ctx.body
        notes.needs = needs = Needs(
            tools=bool(body.get("tools") or body.get("functions")),
            fim=lane == "completion" and ctx.endpoint is Endpoint.COMPLETIONS,
            input_tokens=self.trim.measure(ctx, notes),
            output_tokens=_max_output(body),
            session=session_key(body, ctx.headers) if notes.lane.affinity else None,
        )
        name = ctx.requested_model
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
            headers = {}
            if choice.retry_after_s is not None:
                headers["retry-after"] = str(max(1, round(choice.retry_after_s)))
            raise NoHealthyModel(
                f"No model can serve this '{lane}' request: " + "; ".join(choice.reasons) + ".",
                headers=headers,
            )
        notes.choice = choice


def _max_output(body: dict[str, Any]) -> int:
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return 0
