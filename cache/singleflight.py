"""Single-flight: identical requests in flight at the same time share one upstream call.

The first caller for a key leads. Every event of the call is recorded; everyone holding
the flight reads the record from the start and then live, so a late joiner still gets the
whole stream. A caller whose mode differs from the flight's (a non-streamed request joining
a stream, or the reverse) waits for the assembled answer instead and renders it itself.

Who makes the call: joined with a `source`, a task owned by the flight runs it. Joined
without one, the leader makes the call itself (`Flight.inline`): most requests are alone
with their key, and pay for no task, no extra generator and no event that way. A
non-streamed leader reports the whole body (`Flight.finish`) or its failure (`Flight.fail`);
a streamed one reads its chunks through `Flight.lead`, which records them and, as soon as
somebody else holds the flight, hands the rest of the call to a task of the flight's own
(at the next chunk, or at once if the leader leaves first). Followers of an inline call read
nothing until then: if the leader goes away during its call (its client left), the call
goes with it, the flight ends with `FlightFailed(LeaderLeft())`, and the followers, which
received nothing, join afresh — one of them leading a new call.

Lifetimes, and what happens on failure:
- A caller that goes away (client disconnect) only releases its hold. The upstream call is
  cancelled when the last holder lets go; an answer cut that way is never stored.
- When the source raises, every holder gets `FlightFailed(cause, delivered)`. With
  `delivered == 0` nothing reached that client yet: the pipeline treats it like its own
  upstream failure (fall back to the next model, whose flight it joins afresh — so a failing
  model still costs one call per wave of identical requests, not one per request). With
  `delivered > 0` the stream has started and it must end with an error event.
- An inline flight's leader gets its own failure back (it made the call); its followers
  get `FlightFailed(cause, 0)`: nothing reached them yet.
- A flight that completes hands its answer to `on_answer` (the cache write) and leaves the
  table in the same step, so a later request finds the answer in L1 instead.
- A stream longer than `max_record_bytes` (the cache's own limit on an answer) will not be
  stored: the flight leaves the table (nobody new joins it) and, if its leader is alone,
  the rest of the stream is relayed as it comes, unrecorded, in bounded memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Callable

from cache.answer import StoredAnswer
from cache.assemble import StreamAssembler, assemble_body
from cache.sse import Event, EventSplitter

log = logging.getLogger("laneway.cache")

Source = Callable[[], AsyncIterator[bytes]]
OnAnswer = Callable[[StoredAnswer], None]


class FlightFailed(Exception):
    def __init__(self, cause: BaseException | None, delivered: int) -> None:
        super().__init__(f"the shared upstream call failed: {cause!r}")
        self.cause = cause
        self.delivered = delivered


class LeaderLeft(Exception):
    """An inline flight's leader went away, and its call with it: join again."""


class _State(enum.Enum):
    RUNNING = 1
    DONE = 2
    FAILED = 3


class _Shared:
    __slots__ = (
        "answer", "changed", "error", "events", "finished", "holders", "inline", "key", "kind",
        "model", "on_answer", "state", "streaming", "task",
    )

    def __init__(
        self, key: str, kind: str, streaming: bool, model: str, on_answer: OnAnswer | None
    ) -> None:
        self.key, self.kind, self.streaming, self.model = key, kind, streaming, model
        self.on_answer = on_answer
        self.events: list[tuple[bytes, bool]] = []  # (raw frame or body, is a usage-only chunk)
        # Made when somebody first waits: a lone caller never does.
        self.changed: asyncio.Event | None = None
        self.finished: asyncio.Event | None = None
        self.state = _State.RUNNING
        self.answer: StoredAnswer | None = None
        self.error: BaseException | None = None
        self.holders = 0
        self.task: asyncio.Task[None] | None = None
        self.inline = False  # led in the leader's own task (see the module docstring)

    def publish(self, raw: bytes, usage_only: bool = False) -> None:
        self.events.append((raw, usage_only))
        changed = self.changed
        if changed is not None:
            self.changed = None  # the next waiter makes a fresh one
            changed.set()

    async def next_change(self) -> None:
        if self.changed is None:
            self.changed = asyncio.Event()
        await self.changed.wait()

    async def ended(self) -> None:
        if self.state is _State.RUNNING:
            if self.finished is None:
                self.finished = asyncio.Event()
            await self.finished.wait()


class Flight:
    """One caller's hold on a shared upstream call."""

    __slots__ = ("_released", "_shared", "_table", "leader", "streaming")

    def __init__(self, table: SingleFlight, shared: _Shared, leader: bool, streaming: bool) -> None:
        self._table, self._shared = table, shared
        self.leader = leader
        self.streaming = streaming  # this caller's mode
        self._released = False
        shared.holders += 1

    @property
    def key(self) -> str:
        return self._shared.key

    @property
    def model(self) -> str:
        return self._shared.model

    @property
    def same_mode(self) -> bool:
        """True: read `events()` (the recorded stream); False: render `answer()` yourself."""
        return self.streaming == self._shared.streaming

    @property
    def inline(self) -> bool:
        """True for the leader of an inline flight: make the call, then `finish` or `fail`
        (non-streamed), or read it through `lead` (streamed)."""
        return self.leader and self._shared.inline

    async def events(
        self, include_usage: bool | None = None, start: int = 0
    ) -> AsyncIterator[bytes]:
        """Every recorded frame from the start (or from event `start`), then live.
        `include_usage=False` drops the usage-only chunk (for clients that did not ask); None
        passes everything. While an inline leader still makes the call itself, nothing is
        read: if it leaves, its call goes, and this caller must have received nothing."""
        shared, i, delivered = self._shared, start, start
        try:
            while True:
                # Read once a task carries the call (or it completed): an inline leader's
                # call may still go with it, and then this caller must have had nothing.
                while i < len(shared.events) and (not shared.inline or shared.state is
                                                  _State.DONE):
                    raw, usage_only = shared.events[i]
                    i += 1
                    if usage_only and include_usage is False:
                        continue
                    delivered += 1
                    yield raw
                if shared.state is _State.DONE:
                    return
                if shared.state is _State.FAILED:
                    raise FlightFailed(shared.error, delivered)
                await shared.next_change()
        finally:
            self.release()

    async def body(self) -> bytes:
        """A non-streamed flight's whole body, for a non-streamed caller: one wake-up when
        the flight ends, where `events()` wakes per event and builds a generator."""
        shared = self._shared
        try:
            await shared.ended()
        finally:
            self.release()
        if shared.state is not _State.DONE:
            raise FlightFailed(shared.error, 0)
        return _joined(shared.events, 0)

    async def answer(self) -> StoredAnswer:
        """The assembled answer, once the flight ends; FlightFailed when there is none."""
        shared = self._shared
        try:
            await shared.ended()
        finally:
            self.release()
        if shared.answer is None:
            raise FlightFailed(shared.error, 0)
        return shared.answer

    async def lead(
        self, first: bytes, rest: AsyncIterator[bytes], close: Callable[[], None]
    ) -> AsyncIterator[bytes]:
        """An inline stream's leader: the upstream chunks as whole events, recorded as they
        pass (a late joiner gets the whole stream). Once somebody else holds the flight, a
        task owned by the flight carries the call on and this reads the record instead: at
        the next chunk, or at once if this caller leaves first."""
        shared, table = self._shared, self._table
        rec = _Recorder(shared, table)
        sent, chunk = 0, first
        try:
            while True:
                if rec.passthrough:
                    yield chunk
                else:
                    rec.feed(chunk)
                    if sent < len(shared.events):
                        out, sent = _joined(shared.events, sent), len(shared.events)
                        yield out
                    if rec.over and shared.holders == 1:
                        # Alone, and past what the cache would store: nothing to record.
                        rec.passthrough = True
                        shared.events.clear()
                        sent = 0
                        if pending := rec.splitter.take():
                            yield pending
                if shared.holders > 1:
                    break
                try:
                    chunk = await anext(rest)
                except StopAsyncIteration:
                    table._end(shared, _State.DONE, rec.finish(), None)
                    close()
                    self.release()
                    if sent < len(shared.events):
                        yield _joined(shared.events, sent)
                    return
        except GeneratorExit:  # this caller left between two chunks: the call is intact
            if shared.holders > 1 and shared.state is _State.RUNNING:
                table._carry_on(shared, rest, rec, close)
            else:
                await _stop(table, shared, rest, close, LeaderLeft())
            self.release()
            raise
        except BaseException as exc:  # the call failed, or was cancelled under this caller
            await _stop(table, shared, rest, close,
                        exc if isinstance(exc, Exception) else LeaderLeft())
            self.release()
            raise
        table._carry_on(shared, rest, rec, close)  # a follower came: the flight's task goes on
        recorded = self.events(start=sent)
        try:
            async for raw in recorded:
                yield raw
        finally:
            await recorded.aclose()  # type: ignore[attr-defined]

    def finish(self, body: bytes) -> None:
        """An inline leader's call returned `body` (whole): store it if it is an answer, and
        hand it to the followers."""
        shared = self._shared
        if shared.state is _State.RUNNING:
            rec = _BodyRecorder(shared)
            rec.feed(body)
            self._table._end(shared, _State.DONE, rec.finish(), None)
        self.release()

    def fail(self, error: BaseException) -> None:
        """An inline leader's call raised `error` before any answer: the followers get it."""
        shared = self._shared
        if shared.state is _State.RUNNING:
            self._table._end(shared, _State.FAILED, None, error)
        self.release()

    def release(self) -> None:
        """Let go (idempotent). The last holder to leave a running flight cancels it; an
        inline leader's call ends with it, so its flight ends when it leaves."""
        if self._released:
            return
        self._released = True
        shared = self._shared
        shared.holders -= 1
        if shared.state is not _State.RUNNING:
            return
        if shared.inline and self.leader:
            self._table._end(shared, _State.FAILED, None, LeaderLeft())
        elif shared.holders <= 0:
            self._table._abandon(shared)


class SingleFlight:
    def __init__(self, max_record_bytes: int = 4 << 20) -> None:
        self._flights: dict[str, _Shared] = {}
        self.max_record_bytes = max_record_bytes

    def __len__(self) -> int:
        return len(self._flights)

    def join(
        self,
        key: str,
        *,
        kind: str,
        streaming: bool,
        model: str,
        source: Source | None = None,
        on_answer: OnAnswer | None = None,
    ) -> Flight:
        """Follow the flight for `key`, or lead a new one: with `source`, a task runs it;
        without, the leader makes the call itself (`Flight.inline`).
        A leader's `on_answer` gets the assembled answer if the flight completes (the
        cache write)."""
        shared = self._flights.get(key)
        if shared is not None:
            return Flight(self, shared, leader=False, streaming=streaming)
        shared = _Shared(key, kind, streaming, model, on_answer)
        self._flights[key] = shared
        flight = Flight(self, shared, leader=True, streaming=streaming)
        if source is None:
            shared.inline = True
        else:
            shared.task = asyncio.get_running_loop().create_task(self._produce(shared, source))
        return flight

    async def _produce(self, shared: _Shared, source: Source) -> None:
        rec = _Recorder(shared, self) if shared.streaming else _BodyRecorder(shared)
        await self._run(shared, source(), rec, _noop)

    def _carry_on(
        self, shared: _Shared, rest: AsyncIterator[bytes], rec: _Recorder, close: Callable[[], None]
    ) -> None:
        """An inline stream's call handed over to a task of the flight's own."""
        shared.inline = False
        shared.task = asyncio.get_running_loop().create_task(self._run(shared, rest, rec, close))
        changed = shared.changed
        if changed is not None:  # followers waiting for the hand-over read now
            shared.changed = None
            changed.set()

    async def _run(
        self, shared: _Shared, chunks: AsyncIterator[bytes], rec: _Recorder | _BodyRecorder,
        close: Callable[[], None],
    ) -> None:
        try:
            try:
                async for chunk in chunks:
                    rec.feed(chunk)
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
                close()
            answer = rec.finish()
        except asyncio.CancelledError:
            self._end(shared, _State.FAILED, None, asyncio.CancelledError())
            raise
        except Exception as exc:
            self._end(shared, _State.FAILED, None, exc)
        else:
            self._end(shared, _State.DONE, answer, None)

    def _end(
        self,
        shared: _Shared,
        state: _State,
        answer: StoredAnswer | None,
        error: BaseException | None,
    ) -> None:
        if state is _State.DONE and answer is not None and shared.on_answer is not None:
            # Stored before the flight leaves the table, so no later request falls in a gap.
            try:
                shared.on_answer(answer)
            except Exception:
                log.exception("cache: storing a shared answer failed")
        if self._flights.get(shared.key) is shared:
            del self._flights[shared.key]
        shared.state, shared.answer, shared.error = state, answer, error
        if shared.finished is not None:
            shared.finished.set()
        if shared.changed is not None:
            shared.changed.set()

    def _leave(self, shared: _Shared) -> None:
        """Out of the table while it runs on: its answer will not be stored."""
        if self._flights.get(shared.key) is shared:
            del self._flights[shared.key]

    def _abandon(self, shared: _Shared) -> None:
        if self._flights.get(shared.key) is shared:
            del self._flights[shared.key]
        if shared.task is not None and not shared.task.done():
            shared.task.cancel()

    async def close(self) -> None:
        tasks = [s.task for s in self._flights.values() if s.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _usage_only(payload: object) -> bool:
    return isinstance(payload, dict) and payload.get("choices") == [] and bool(
        payload.get("usage")
    )


class _Recorder:
    """A stream's chunks split into whole events, each parsed once: recorded for the holders
    and assembled into the answer that is stored, up to the table's `max_record_bytes`."""

    __slots__ = ("assembler", "left", "over", "passthrough", "shared", "splitter", "table")

    def __init__(self, shared: _Shared, table: SingleFlight) -> None:
        self.shared, self.table = shared, table
        self.splitter = EventSplitter()
        self.assembler: StreamAssembler | None = StreamAssembler(shared.kind)
        self.left = table.max_record_bytes
        self.over = False  # past the limit: the answer will not be stored
        self.passthrough = False  # and nobody else reads the record: chunks pass unrecorded

    def feed(self, chunk: bytes) -> None:
        self.left -= len(chunk)
        if self.left < 0 and not self.over:
            self.over = True
            self.assembler = None
            self.table._leave(self.shared)
        self._publish(self.splitter.feed(chunk))

    def _publish(self, events: list[Event]) -> None:
        assembler = self.assembler
        for event in events:
            payload = assembler.feed(event) if assembler is not None else event.json()
            self.shared.publish(event.raw, _usage_only(payload))

    def finish(self) -> StoredAnswer | None:
        self._publish(self.splitter.flush())
        return None if self.assembler is None else self.assembler.answer(self.shared.model)


class _BodyRecorder:
    """A non-streamed answer's chunks, recorded as they come and parsed once whole."""

    __slots__ = ("shared",)

    def __init__(self, shared: _Shared) -> None:
        self.shared = shared

    def feed(self, chunk: bytes) -> None:
        self.shared.publish(chunk)

    def finish(self) -> StoredAnswer | None:
        shared = self.shared
        return assemble_body(shared.kind, _joined(shared.events, 0), shared.model)


def _joined(events: list[tuple[bytes, bool]], start: int) -> bytes:
    return b"".join(raw for raw, _ in events[start:])


async def _stop(
    table: SingleFlight, shared: _Shared, rest: AsyncIterator[bytes], close: Callable[[], None],
    error: BaseException,
) -> None:
    """An inline stream's call ends with its leader: followers start afresh (LeaderLeft) or
    get the failure; the upstream connection is dropped."""
    if shared.state is _State.RUNNING:
        table._end(shared, _State.FAILED, None, error)
    try:
        await rest.aclose()  # type: ignore[attr-defined]
    finally:
        close()


def _noop() -> None:
    return None
