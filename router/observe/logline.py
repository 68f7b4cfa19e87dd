"""One structured JSON line per request on the `laneway.access` logger.

The line carries what an operator needs to follow a request (id, tenant, lane and why,
model, cache, tokens, cost, timings, status, attempts) and never a key: tenants appear as
their hashed ids. Prompt text appears only with `server.log_prompts: true`.

Lines are written by a background thread in batches (one wake-up per BATCH_S, not per
line), so the event loop pays for building the dict, serialising it and one queue put (no
LogRecord), and nothing when the logger is off.
An operator who configures handlers for `laneway.access` gets ordinary log records instead.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from router.context import RequestContext

ACCESS = logging.getLogger("laneway.access")
BATCH_S = 0.05  # the writer thread wakes at most this often under load
# The parts of a request body that hold what the user typed or the code they sent.
_PROMPT_FIELDS = ("messages", "prompt", "suffix", "input", "instructions")
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


def fields(
    ctx: RequestContext, cost_usd: float, saved_usd: float, duration_s: float,
    log_prompts: bool = False,
) -> dict[str, Any]:
    d = ctx.decision
    model = ctx.model
    ttft = ctx.ttft_s
    # Enums (StrEnum) and tuples go to orjson as they are: it writes them as strings and
    # arrays, so the line is the same without converting them here.
    line: dict[str, Any] = {
        "ts": round(time.time(), 3),
        "request_id": ctx.request_id,
        "tenant": ctx.tenant,
        "endpoint": ctx.endpoint,
        "lane": d.lane if d is not None else "qa",
        "reasons": d.reasons if d is not None else (),
        "requested_model": ctx.requested_model,
        "model": model.name if model is not None else None,
        "cache": ctx.cache,
        "stream": ctx.stream,
        "tokens_in": ctx.input_tokens,
        "tokens_trimmed": ctx.trimmed_tokens,
        "tokens_out": ctx.output_tokens,
        "cost_usd": round(cost_usd, 8),
        "saved_usd": round(saved_usd, 8),
        "ttft_ms": None if ttft is None else round(ttft * 1000, 2),
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
    data = orjson.dumps(line, default=str, option=_OPTIONS)
    handlers = ACCESS.handlers
    if len(handlers) == 1 and isinstance(handlers[0], _LineQueue) and not ACCESS.filters:
        # Our own writer: hand it the bytes. A LogRecord would cost more than the line.
        handlers[0].lines.put(data)
    else:  # handlers an operator configured: the ordinary logging path
        ACCESS.info(data[:-1].decode())


def refusal(request_id: str, method: str, path: str, status: int, code: str | None,
            started: float | None = None) -> None:
    """The line of a request refused before it had a lane (no route, no key, too large,
    malformed, over its limit): operators look for these as much as for answers."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    line: dict[str, Any] = {"ts": round(time.time(), 3), "request_id": request_id,
                            "method": method, "path": path[:256], "status": status,
                            "error": code}
    if started is not None:
        line["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
    data = orjson.dumps(line, option=_OPTIONS)
    handlers = ACCESS.handlers
    if len(handlers) == 1 and isinstance(handlers[0], _LineQueue) and not ACCESS.filters:
        handlers[0].lines.put(data)
    else:
        ACCESS.info(data[:-1].decode())


class _LineQueue(logging.Handler):
    """Queues finished lines for the writer thread; ordinary records are formatted first."""

    def __init__(self, lines: queue.SimpleQueue[bytes | None]) -> None:
        super().__init__()
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.put(self.format(record).encode() + b"\n")


class AccessLog:
    """Owns one worker's writer thread; `close()` writes out what is queued, then restores
    the logger as it was."""

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self._out = stream or sys.stdout.buffer
        self._handler = _LineQueue(queue.SimpleQueue())
        self._thread = threading.Thread(target=self._write, name="laneway-access", daemon=True)
        self._thread.start()
        self._saved = (ACCESS.level, ACCESS.propagate)
        ACCESS.addHandler(self._handler)
        ACCESS.setLevel(logging.INFO)
        # Only the JSON line, and only once: not again through the root logger's handlers.
        ACCESS.propagate = False

    def _write(self) -> None:
        # Under load the thread never waits on the queue: it sleeps BATCH_S, takes every
        # line queued meanwhile, writes them at once, and sleeps again, so the loop's put
        # never has a waiting getter to wake (a futex call and a GIL hand-off per batch).
        # Only after a sleep that found nothing does it block until the next line.
        lines = self._handler.lines
        while True:
            batch = [lines.get()]
            while True:
                _idle(BATCH_S)
                with contextlib.suppress(queue.Empty):
                    while True:
                        batch.append(lines.get_nowait())
                if not batch:
                    break  # quiet: back to waiting for the next line
                done = None in batch
                self._out.write(b"".join(line for line in batch if line is not None))
                self._out.flush()
                if done:
                    return
                batch = []

    def close(self) -> None:
        ACCESS.removeHandler(self._handler)
        ACCESS.setLevel(self._saved[0])  # setLevel, not .level=: it resets the level caches
        ACCESS.propagate = self._saved[1]
        self._handler.lines.put(None)
        self._thread.join(timeout=5)


def open_access_log(enabled: bool = True) -> AccessLog | None:
    """Start writing access lines to stdout, unless they are off or someone else already
    configured the logger (their handlers and level win)."""
    if not enabled:
        ACCESS.setLevel(logging.WARNING)
        return None
    if ACCESS.handlers:
        return None
    return AccessLog()


def _idle(seconds: float) -> None:
    """The writer's pause between batches: a function of its own so that a sampling profiler
    (loadtests/bench/profile.py) can tell this thread is idle here, not busy."""
    time.sleep(seconds)
