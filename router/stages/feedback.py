"""The feedback stage: a laneway id on every answer, experiment arms, per-user tuning, and
acceptance (explicit events and implicit) flowing back into the choice.

Where it touches a request, and what each touch costs:
- `run` (between classify and choose): a new id (a per-process random prefix and a
  counter), the unit's experiment arm (a hash), the user's tuning (a dict lookup) and, for
  completions, the implicit-acceptance check (one substring search per recent completion
  of the same file);
- `stamp` (each answer's bytes on their way out): the upstream's id replaced by laneway's,
  byte for byte (a regex on the first chunk, `bytes.replace` on the others): no JSON is
  decoded or re-encoded, and cache hits and typeahead answers get a fresh id each time;
- `delivered` (after the last byte, in `record`): the answer is registered and counted as
  shown through a queue that one background task drains into the feedback store, so
  neither the in-process store nor Redis is ever on the client's path.
Learned state (the store, the shown index, the tuning, the acceptance board) lives in
`FeedbackCore` and outlives a reload; the experiments are rebuilt from each config.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from cache.sse import events
from policies.experiments import NO_ARM, Experiment, unit_of
from policies.fim import parse as parse_fim
from policies.implicit import file_of
from policies.lanes import Endpoint
from policies.trim import TrimBudget
from router.stages.feedback_core import FeedbackCore

if TYPE_CHECKING:
    from cache.feedback import Answer
    from router.context import RequestContext

_ID_VALUE = re.compile(rb'"id"\s*:\s*"([^"\\]*)"')


@dataclass(slots=True, eq=False)
class FeedbackNote:
    """One request's part in the feedback loop (on the RequestContext)."""

    completion_id: str
    unit: str
    arm: str = NO_ARM
    experiment: str = ""
    file: str | None = None  # completions on /completions: what implicit acceptance matches
    prefix: str | None = None
    old: bytes | None = None  # the upstream's id value, quoted, once seen
    new: bytes = b""


class FeedbackStage:
    def __init__(self, experiments: Sequence[Experiment], core: FeedbackCore,
                 policy: str = "") -> None:
        self.core = core
        self.policy = policy  # the policy's name: part of a shaped budget's cache variant
        self.experiments = tuple(experiments)
        self.by_lane: dict[str, Experiment] = {e.lane: e for e in experiments}
        core.experiments = self.experiments
        # (lane, cap, input budget, scope) -> (budget, cache variant); a handful.
        self._budgets: OrderedDict[tuple[object, ...], tuple[TrimBudget, str]] = OrderedDict()

    # -- planning (between classify and choose) ------------------------------------------
    def run(self, ctx: RequestContext, dry_run: bool = False) -> None:
        """Note the request's id, arm and file; an arm's model (for `auto`) and the trim
        budget (the arm's overrides, else the user's tuning) go into the chain's notes."""
        notes = ctx.notes
        assert notes is not None
        core = self.core
        body, headers = ctx.body, ctx.headers
        unit = unit_of(body.get("user"), headers.get("x-laneway-user"), ctx.tenant)
        note = ctx.feedback = FeedbackNote(core.new_id(), unit)
        lane = ctx.lane
        exp = self.by_lane.get(lane)
        cap: int | None = None
        inputs: int | None = None
        scope: str | None = None
        if exp is not None and ctx.requested_model == "auto":
            arm = exp.assign(unit, core.winners.get(exp.name))
            note.experiment, note.arm = exp.name, arm.name
            notes.arm_model = arm.model
            cap, inputs, scope = arm.max_output_tokens, arm.input_tokens, arm.scope
        budget = notes.budget
        if lane == "completion":
            tuned = core.tuning.tuning(ctx.tenant, unit, budget.max_output_tokens)
            cap = cap or tuned.max_output_tokens
            scope = scope or tuned.scope
            if ctx.endpoint is Endpoint.COMPLETIONS:
                self._implicit(ctx, note, dry_run)
        if cap is None and inputs is None and scope is None:
            return
        key = (lane, cap, inputs, scope)
        shaped = self._budgets.get(key)
        if shaped is None:
            b = replace(budget, max_output_tokens=cap or budget.max_output_tokens,
                        input_tokens=inputs or budget.input_tokens, force_scope=scope)
            shaped = self._budgets[key] = (b, f"{self.policy}|{b!r}")
            if len(self._budgets) > 512:
                self._budgets.popitem(last=False)
        notes.budget, notes.variant = shaped

    def _implicit(self, ctx: RequestContext, note: FeedbackNote, dry_run: bool) -> None:
        prompt = ctx.body.get("prompt")
        if isinstance(prompt, list) and len(prompt) == 1:
            prompt = prompt[0]
        if not isinstance(prompt, str):
            return
        suffix = ctx.body.get("suffix")
        fim = parse_fim(prompt, suffix if isinstance(suffix, str) else None)
        note.prefix = fim.prefix if fim is not None else prompt
        note.file = file_of(fim.path if fim is not None else None, ctx.body,
                            ctx.headers.get("x-laneway-session"), note.unit)
        if not dry_run:
            for cid in self.core.index.accepted(ctx.tenant, note.file, note.prefix,
                                                time.monotonic()):
                self.core.event(cid, ctx.tenant, "accepted", "implicit")

    # -- answering -----------------------------------------------------------------------
    @staticmethod
    def stamp(ctx: RequestContext, data: bytes) -> bytes:
        """`data` (a whole answer or one streamed chunk) with laneway's id in its `id`."""
        note = ctx.feedback
        if note is None:
            return data
        if note.old is None:
            m = _ID_VALUE.search(data)
            if m is None:
                return data
            note.old = b'"' + m.group(1) + b'"'
            note.new = b'"' + note.completion_id.encode() + b'"'
        return data.replace(note.old, note.new)

    # -- after the answer ----------------------------------------------------------------
    def delivered(self, ctx: RequestContext, chunks: Sequence[bytes], cost_usd: float,
                  answer: Answer) -> None:
        """The whole answer reached the client: it counts as shown."""
        note = ctx.feedback
        if note is None:
            return
        core = self.core
        text = None
        if note.file is not None and note.prefix is not None:
            text = completion_text(chunks, ctx.stream)
            core.index.shown(ctx.tenant, note.file, note.completion_id, note.prefix, text,
                             time.monotonic())
        core.delivered(note.completion_id, answer, ctx.scope, ctx.output_tokens,
                       ctx.ttft_s, text is not None)


def completion_text(chunks: Sequence[bytes], streamed: bool) -> str:
    """The generated text of a completion answer (legacy `text` or chat `content`)."""
    if not streamed:
        from orjson import JSONDecodeError, loads

        try:
            obj = loads(b"".join(chunks))
        except JSONDecodeError:
            return ""
        parts = [obj] if isinstance(obj, dict) else []
    else:
        parts = list(events(list(chunks)))
    out: list[str] = []
    for ev in parts:
        for choice in ev.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            piece = choice.get("text")
            if piece is None:
                holder = choice.get("delta") or choice.get("message") or {}
                piece = holder.get("content") if isinstance(holder, dict) else None
            if isinstance(piece, str):
                out.append(piece)
    return "".join(out)
