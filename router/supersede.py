"""Stopping work nobody waits for: a client that went away, or a superseded completion.

An editor sends a completion on each pause in typing; when the next one arrives from the
same session (`x-laneway-session`, per tenant), the older one still in flight is useless.
Both cases cancel the request's task while it waits on the upstream, which closes the
upstream connection: the model stops generating within milliseconds.

Two phases, two mechanisms:
- before the answer starts (`guarded`): a watcher task (started `WATCH_AFTER_S` after it)
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

    __slots__ = ("ctx", "key", "reason", "relaying", "request", "sessions", "settled", "task",
                 "waiting", "watcher")

    def __init__(self, ctx: RequestContext, task: asyncio.Task[object] | None) -> None:
        self.ctx = ctx
        self.task = task
        self.key: tuple[str, str] | None = None
        self.reason: str | None = None  # "gone" | "superseded"
        self.waiting = True  # on the upstream: a cancel may be delivered
        self.settled = False
        self.relaying = False  # its stream is relayed under the session's claim
        self.request: Request | None = None
        self.sessions: Sessions | None = None
        self.watcher: asyncio.Task[None] | None = None

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

    # -- the guarded await's steps (see `guarded`) --------------------------------------

    def cancelled(self) -> LanewayError | None:
        """The pipeline was cancelled: the error to answer with if this turn did it (the
        client left, it was superseded), None if the cancellation came from elsewhere."""
        self.waiting = False
        if self.reason is None or self.task is None:
            return None
        self.task.uncancel()
        return self.error()

    async def drop(self, response: Response) -> None:
        """Cancelled just as the answer arrived: release it and raise the turn's error."""
        self.waiting = False
        if isinstance(response, StreamingResponse):
            await response.body_iterator.aclose()  # type: ignore[attr-defined]
        raise self.error()

    def answered(self, response: Response) -> Response:
        """The response, its stream relayed under the session's claim if it has one."""
        self.waiting = False
        if self.key is not None and isinstance(response, StreamingResponse):
            assert self.sessions is not None
            self.relaying = True
            response.body_iterator = self.relay(response.body_iterator, self.sessions)
        return response

    def close(self) -> None:
        """Stop guarding: no watcher from now on; the session is left unless a relay has it."""
        self.waiting = False
        if self.sessions is not None:
            self.sessions.unwatch(self)
        if self.watcher is not None:
            self.watcher.cancel()
        self.settled = True
        self.request = None
        if not self.relaying:
            self.task = None
            if self.sessions is not None:
                self.sessions.leave(self)

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
        # Guarded turns by when their disconnect watcher is due (insertion order is due
        # order), and one timer for the earliest: a timer per request cost 1.3 us to set
        # and cancel, though most requests are answered before it would fire.
        self._due: dict[Turn, float] = {}
        self._sweep: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None

    def watch(self, turn: Turn, loop: asyncio.AbstractEventLoop) -> None:
        """Start `turn`'s disconnect watcher WATCH_AFTER_S from now unless it is unwatched."""
        if self._sweep_loop is not loop:  # a new event loop (tests): the old one's are gone
            self._due.clear()
            self._sweep, self._sweep_loop = None, loop
        self._due[turn] = loop.time() + WATCH_AFTER_S
        if self._sweep is None:
            self._sweep = loop.call_later(WATCH_AFTER_S, self._start_due, loop)

    def unwatch(self, turn: Turn) -> None:
        self._due.pop(turn, None)

    def _start_due(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweep = None
        now = loop.time()
        for turn, due in list(self._due.items()):
            if due > now:
                self._sweep = loop.call_at(due, self._start_due, loop)  # the next one due
                return
            del self._due[turn]
            _watch_later(turn)

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


def guard(request: Request, ctx: RequestContext, sessions: Sessions) -> Turn:
    """Guard the current task, which runs the pipeline next (in `guarded`): it is cancelled
    if the client leaves or a newer completion of its session arrives."""
    loop = asyncio.get_running_loop()
    turn = Turn(ctx, asyncio.current_task())
    turn.request, turn.sessions = request, sessions
    sessions.watch(turn, loop)
    session = ctx.headers.get(SESSION_HEADER)
    if session:
        # Runs once the pipeline first waits, by which time it has classified the request.
        loop.call_soon(sessions.settle, turn, session)
    return turn


def _watch_later(turn: Turn) -> None:
    if turn.task is not None and turn.reason is None and turn.request is not None:
        turn.watcher = asyncio.get_running_loop().create_task(_watch(turn.request, turn))


async def guarded(
    request: Request, ctx: RequestContext, work: Awaitable[Response], sessions: Sessions
) -> Response:
    """Await `work` (the pipeline) under `guard`: raises ClientGone or Superseded when the
    client left or a newer completion replaced it."""
    turn = guard(request, ctx, sessions)
    try:
        try:
            response = await work
        except asyncio.CancelledError:
            err = turn.cancelled()
            if err is None:
                raise
            raise err from None
        if turn.reason is not None:  # cancelled just as the answer arrived
            await turn.drop(response)
        return turn.answered(response)
    finally:
        turn.close()
