"""Stopping work nobody waits for: a client that went away, or a superseded completion.

An editor sends a completion on each pause in typing; when the next one arrives from the
same session (`x-laneway-session`, per tenant), the older one still in flight is useless.
Both cases cancel the request's task while it waits on the upstream, which closes the
upstream connection: the model stops generating within milliseconds.

Two phases, two mechanisms:
- before the answer starts (`guarded`): a watcher task (started after `WATCH_AFTER_S`)
  waits for `http.disconnect`, and a newer completion may cancel the handler task. Either
  ends as an error response.
- while a stream is relayed (`Turn.relay`): Starlette itself cancels the stream when the
  client leaves; a newer completion cancels it here and the stream ends with an SSE error.
A cancel is only delivered while the task waits on the upstream (`Turn.waiting`), never
while it writes to the client, so it cannot tear a half-sent frame.

Superseding is per process: two requests of one session that land on different replicas
do not see each other (the older one then simply finishes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from router.errors import LanewayError

if TYPE_CHECKING:
    from router.context import RequestContext

SESSION_HEADER = "x-laneway-session"
_SETTLE_TRIES = 3
# The disconnect watcher starts this long after the pipeline: most requests (every cache
# hit, a fast upstream) are answered by then and never pay for its task. A client that left
# earlier is seen as soon as it starts (uvicorn keeps the disconnect), well within a second.
WATCH_AFTER_S = 0.1


class Superseded(LanewayError):
    status = 409
    type = "invalid_request_error"
    default_code = "superseded"


class ClientGone(LanewayError):
    """Nobody reads this answer; the status is what the request is recorded with."""

    status = 499
    type = "invalid_request_error"
    default_code = "client_closed_request"


class Turn:
    """One request's claim to its session, and the handle to cancel it."""

    __slots__ = ("ctx", "key", "reason", "settled", "task", "waiting")

    def __init__(self, ctx: RequestContext, task: asyncio.Task[object] | None) -> None:
        self.ctx = ctx
        self.task = task
        self.key: tuple[str, str] | None = None
        self.reason: str | None = None  # "gone" | "superseded"
        self.waiting = True  # on the upstream: a cancel may be delivered
        self.settled = False

    def cancel(self, reason: str) -> None:
        if self.reason is not None:
            return
        self.reason = reason
        # Set before the cancel lands, so the pipeline records this outcome.
        self.ctx.error_reason = "superseded" if reason == "superseded" else "client_gone"
        if reason == "superseded":
            self.ctx.status = Superseded.status
        if self.waiting and self.task is not None:
            self.task.cancel()

    def error(self) -> LanewayError:
        if self.reason == "superseded":
            return Superseded(
                "A newer completion from the same session replaced this one.",
                param=SESSION_HEADER,
            )
        return ClientGone("The client closed the request.")

    async def relay(self, chunks: AsyncIterable[Any], sessions: Sessions) -> AsyncIterator[Any]:
        """A stream's chunks, ended by an SSE error event if a newer completion arrives."""
        self.task = asyncio.current_task()
        it = chunks.__aiter__()
        try:
            while self.reason is None:
                self.waiting = True
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    return
                except asyncio.CancelledError:
                    if self.reason != "superseded":
                        raise  # the client left: Starlette's cancellation, let it through
                    assert self.task is not None
                    self.task.uncancel()
                    break
                finally:
                    self.waiting = False
                yield chunk
            if self.reason == "superseded":
                await it.aclose()  # type: ignore[attr-defined]
                yield self.error().sse_event()
        finally:
            self.task = None
            sessions.leave(self)


class Sessions:
    """Per process: the newest in-flight completion of each (tenant, session)."""

    def __init__(self) -> None:
        self._live: dict[tuple[str, str], Turn] = {}

    def __len__(self) -> int:
        return len(self._live)

    def settle(self, turn: Turn, session: str, tries: int = _SETTLE_TRIES) -> None:
        """Claim the session once the request's lane is known; supersede the older claim."""
        if turn.task is None or turn.settled:
            return  # already answered
        ctx = turn.ctx
        if ctx.decision is None:
            # Not classified yet (classification is the pipeline's first, synchronous step,
            # so this is rare): look again on the next loop iteration.
            if tries:
                asyncio.get_running_loop().call_soon(self.settle, turn, session, tries - 1)
            return
        turn.settled = True
        if ctx.lane != "completion":
            return
        key = (ctx.tenant, session[:128])
        turn.key = key
        old = self._live.get(key)
        if old is not None and old.ctx.started > ctx.started:
            turn.cancel("superseded")  # this one arrived first but settled last
            return
        self._live[key] = turn
        if old is not None:
            old.cancel("superseded")

    def leave(self, turn: Turn) -> None:
        if turn.key is not None and self._live.get(turn.key) is turn:
            del self._live[turn.key]


async def _watch(request: Request, turn: Turn) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            turn.cancel("gone")
            return


async def guarded(
    request: Request, ctx: RequestContext, work: Awaitable[Response], sessions: Sessions
) -> Response:
    """Await `work` (the pipeline), cancelling it if the client leaves or it is superseded.

    Raises ClientGone or Superseded in those cases (rendered by the endpoint).
    """
    task = asyncio.current_task()
    turn = Turn(ctx, task)
    loop = asyncio.get_running_loop()
    watcher: list[asyncio.Task[None]] = []

    def watch() -> None:
        if turn.task is not None and turn.reason is None:
            watcher.append(loop.create_task(_watch(request, turn)))

    timer = loop.call_later(WATCH_AFTER_S, watch)
    session = ctx.headers.get(SESSION_HEADER)
    if session:
        # Runs once the pipeline first waits, by which time it has classified the request.
        loop.call_soon(sessions.settle, turn, session)
    streaming = False
    try:
        try:
            response = await work
        except asyncio.CancelledError:
            if turn.reason is None or task is None:
                raise
            task.uncancel()
            raise turn.error() from None
        finally:
            turn.waiting = False
        if turn.reason is not None:  # cancelled just as the answer arrived
            if isinstance(response, StreamingResponse):
                await response.body_iterator.aclose()  # type: ignore[attr-defined]
            raise turn.error()
        if turn.key is not None and isinstance(response, StreamingResponse):
            streaming = True
            response.body_iterator = turn.relay(response.body_iterator, sessions)
        return response
    finally:
        timer.cancel()
        if watcher:
            watcher[0].cancel()
        turn.settled = True
        if not streaming:
            turn.task = None
            sessions.leave(turn)
