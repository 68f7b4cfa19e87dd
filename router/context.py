"""The one per-request object every stage reads and writes; nothing else holds request state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from policies.catalog import ModelSpec
    from policies.lanes import Endpoint, LaneDecision
    from router.frontends.base import Frontend
    from router.stages.feedback import FeedbackNote
    from router.stages.notes import Notes


@dataclass(slots=True, eq=False)
class RequestContext:
    request_id: str
    endpoint: Endpoint
    body: dict[str, Any]
    headers: Mapping[str, str]
    tenant: str
    started: float  # perf_counter at arrival
    frontend: Frontend  # the client's API: how the answer and errors are rendered
    stream: bool = False
    body_bytes: int = 0  # size of the request body as received
    decision: LaneDecision | None = None
    requested_model: str = "auto"
    model: ModelSpec | None = None  # the model that answered (or is being tried)
    upstream_body: dict[str, Any] | None = None
    tokens_before: int = 0
    trimmed_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # of input_tokens, read from the upstream's prompt cache
    scope: str | None = None  # completions: "line" | "block"
    cache: str = "miss"
    status: int = 200
    ttft_s: float | None = None
    overhead_s: float = 0.0
    error_reason: str | None = None
    attempts: list[tuple[str, str]] = field(default_factory=list)  # (model, outcome)
    notes: Notes | None = None  # the chain's working notes (router/stages/notes.py)
    # The recorder's bookkeeping: the lane counted in flight (None: not yet), and whether
    # the request was recorded, so every ending records once and in-flight cannot drift.
    inflight_lane: str | None = None
    recorded: bool = False
    hold: Any = None  # the team budget's hold (router/limits/spend.py), settled by record
    # The answer's laneway id, experiment arm and what implicit acceptance needs
    # (router/stages/feedback.py); None until the request is planned.
    feedback: FeedbackNote | None = None

    @property
    def lane(self) -> str:
        # _value_ (the enum's documented sunder attribute) rather than .value, a descriptor
        # that costs ~10x a plain attribute: stages read the lane a dozen times a request.
        d = self.decision
        return d.lane._value_ if d is not None else "qa"  # type: ignore[no-any-return]

    def answer_headers(self) -> dict[str, str]:
        h = {
            "x-request-id": self.request_id,
            "x-laneway-lane": self.lane,
            "x-laneway-model": self.model.name if self.model else "",
            "x-laneway-cache": self.cache,
            "x-laneway-trimmed-tokens": str(self.trimmed_tokens),
        }
        if self.decision is not None and self.decision.lane._value_ == "completion":
            h["x-laneway-completion-scope"] = self.scope or "block"
        note = self.feedback
        if note is not None:
            h["x-laneway-completion-id"] = note.completion_id
            if note.experiment:
                h["x-laneway-experiment"] = f"{note.experiment}={note.arm}"
        return h
