"""One structured JSON line per request on the `laneway.access` logger.

The line carries what an operator needs to follow a request (id, tenant, lane and why,
model, cache, tokens, cost, timings, status, attempts) and never a key: tenants appear as
their hashed ids. Prompt text appears only with `server.log_prompts: true`.

Lines are written by a background thread (QueueHandler -> QueueListener), so the event loop
only pays for building the dict and one queue put, and nothing when the logger is off.
"""

from __future__ import annotations

import logging
import queue
import sys
import time
from logging.handlers import QueueHandler, QueueListener
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from router.context import RequestContext

ACCESS = logging.getLogger("laneway.access")
# The parts of a request body that hold what the user typed or the code they sent.
_PROMPT_FIELDS = ("messages", "prompt", "suffix", "input", "instructions")


def fields(
    ctx: RequestContext, cost_usd: float, saved_usd: float, duration_s: float,
    log_prompts: bool = False,
) -> dict[str, Any]:
    d = ctx.decision
    line: dict[str, Any] = {
        "ts": round(time.time(), 3),
        "request_id": ctx.request_id,
        "tenant": ctx.tenant,
        "endpoint": ctx.endpoint.value,
        "lane": ctx.lane,
        "reasons": list(d.reasons) if d is not None else [],
        "requested_model": ctx.requested_model,
        "model": ctx.model.name if ctx.model is not None else None,
        "cache": ctx.cache,
        "stream": ctx.stream,
        "tokens_in": ctx.input_tokens,
        "tokens_trimmed": ctx.trimmed_tokens,
        "tokens_out": ctx.output_tokens,
        "cost_usd": round(cost_usd, 8),
        "saved_usd": round(saved_usd, 8),
        "ttft_ms": None if ctx.ttft_s is None else round(ctx.ttft_s * 1000, 2),
        "duration_ms": round(duration_s * 1000, 2),
        "overhead_ms": round(ctx.overhead_s * 1000, 3),
        "status": ctx.status,
        "error": ctx.error_reason,
        "attempts": [{"model": m, "outcome": o} for m, o in ctx.attempts],
    }
    if ctx.scope is not None:
        line["scope"] = ctx.scope
    if log_prompts:
        line["prompt"] = {k: ctx.body[k] for k in _PROMPT_FIELDS if k in ctx.body}
    return line


def emit(
    ctx: RequestContext, cost_usd: float, saved_usd: float, duration_s: float,
    log_prompts: bool = False,
) -> None:
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    line = fields(ctx, cost_usd, saved_usd, duration_s, log_prompts)
    # OPT_NON_STR_KEYS/default=str: a prompt may hold anything JSON can; never fail a request
    # over its log line.
    ACCESS.info(orjson.dumps(line, default=str, option=orjson.OPT_NON_STR_KEYS).decode())


class AccessLog:
    """Owns the handler and writer thread of one worker; `close()` flushes what is queued."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._queue_handler = QueueHandler(q)
        self._listener = QueueListener(q, handler)
        self._listener.start()
        self._saved = (ACCESS.level, ACCESS.propagate)
        ACCESS.addHandler(self._queue_handler)
        ACCESS.setLevel(logging.INFO)
        # Only the JSON line, and only once: not again through the root logger's handlers.
        ACCESS.propagate = False

    def close(self) -> None:
        ACCESS.removeHandler(self._queue_handler)
        ACCESS.setLevel(self._saved[0])  # setLevel, not .level=: it resets the level caches
        ACCESS.propagate = self._saved[1]
        self._listener.stop()


def open_access_log(enabled: bool = True) -> AccessLog | None:
    """Start writing access lines to stdout, unless they are off or someone else already
    configured the logger (their handlers and level win)."""
    if not enabled:
        ACCESS.setLevel(logging.WARNING)
        return None
    if ACCESS.handlers:
        return None
    return AccessLog()
