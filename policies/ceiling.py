"""The client's output ceiling (`max_tokens` and its newer names), read and lowered.

A ceiling, not a demand: agents send a fixed `max_tokens` (opencode 32,000, Claude Code up
to 64,000) whatever the model's window, so laneway lowers it to what the chosen model can
hold beside the prompt instead of refusing the request.
"""

from __future__ import annotations

from typing import Any

CEILING_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


def output_ceiling(body: dict[str, Any]) -> int:
    """The client's output ceiling, 0 when it set none."""
    for key in CEILING_FIELDS:
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return 0


def lower_ceiling(body: dict[str, Any], room: int) -> None:
    """Lower every ceiling field of `body` (a copy the caller owns) above `room` to it."""
    for key in CEILING_FIELDS:
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > room:
            body[key] = room
