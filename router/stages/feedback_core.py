"""What the feedback loop keeps between requests (and across reloads), and its two tasks.

- The drainer: registrations and events go into one queue, drained by one task into the
  feedback store (in process or Redis). One queue keeps a process's own order (an answer
  is registered before an event on it is counted) and keeps the store off every request's
  path. Each event the store counts (once across replicas) goes to the metrics and, for
  accepted completions served here, to the user's tuning.
- The sync: every `sync_s` the store's totals are folded into the acceptance board the
  chooser reads (so every replica learns from every event), and each experiment is
  decided from the shared counts; the first replica to decide stores the winner, and the
  others adopt it on their next sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cache.feedback import ACCEPTED, Answer, Counted, FeedbackStore
from policies.acceptance import AcceptanceBoard
from policies.adapt import UserTuning
from policies.experiments import ArmCounts, Experiment, ci95
from policies.implicit import ShownIndex
from router.observe.metrics import Metrics

log = logging.getLogger("laneway.feedback")

MAX_PENDING = 100_000  # beyond this (a store far slower than traffic) work is dropped
RECENT = 50_000  # completions served here whose acceptance may still come
BATCH = 256  # operations per store call (one Redis round trip)


@dataclass(slots=True)
class _Served:
    tenant: str
    unit: str
    scope: str | None
    output_tokens: int


class FeedbackCore:
    def __init__(self, store: FeedbackStore, metrics: Metrics, board: AcceptanceBoard,
                 sync_s: float = 1.0) -> None:
        self.store = store
        self.metrics = metrics
        self.board = board
        self.sync_s = sync_s
        self.index = ShownIndex()
        self.tuning = UserTuning()
        self.experiments: tuple[Experiment, ...] = ()
        self.winners: dict[str, str] = {}
        self.dropped = 0
        self._recent: OrderedDict[str, _Served] = OrderedDict()
        self._ttft: dict[tuple[str, str], deque[float]] = {}
        self._pending: deque[tuple[Any, ...]] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._pid = os.getpid()
        self._prefix = "cmpl-lw" + secrets.token_hex(6)
        self._seq = itertools.count(1)

    def new_id(self) -> str:
        """Unique per answer: a random prefix per process (a forked worker draws its own),
        then a counter; as cheap as the request id."""
        if os.getpid() != self._pid:
            self._pid, self._prefix = os.getpid(), "cmpl-lw" + secrets.token_hex(6)
        return f"{self._prefix}{next(self._seq):x}"

    # -- producers (request path: appends only) ------------------------------------------
    def delivered(self, cid: str, answer: Answer, scope: str | None, output_tokens: int,
                  ttft_s: float | None, completion: bool) -> None:
        if completion:
            self._recent[cid] = _Served(answer.tenant, answer.unit, scope, output_tokens)
            if len(self._recent) > RECENT:
                self._recent.popitem(last=False)
            if scope is not None:
                self.tuning.shown(answer.tenant, answer.unit, scope)
        if answer.experiment and ttft_s is not None:
            samples = self._ttft.setdefault((answer.experiment, answer.arm), deque(maxlen=512))
            samples.append(ttft_s * 1000.0)
        self._push(("register", cid, answer))

    def event(self, cid: str, tenant: str, kind: str, source: str = "event") -> None:
        self._push(("event", cid, tenant, kind, source))

    def _push(self, item: tuple[Any, ...]) -> None:
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(item)
        self._wake.set()

    # -- tasks ---------------------------------------------------------------------------
    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._drain()), loop.create_task(self._sync())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.store.close()

    async def _drain(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                n = min(len(self._pending), BATCH)
                ops = [self._pending.popleft() for _ in range(n)]
                try:
                    results = await self.store.apply(ops)
                except Exception as exc:  # a sick Redis costs feedback, never answers
                    self.dropped += n
                    log.warning("feedback store failed: %s", type(exc).__name__)
                    continue
                for op, counted in zip(ops, results, strict=True):
                    if counted is not None:
                        self._counted(op[1], counted, op[4] if op[0] == "event" else "event")

    def _counted(self, cid: str, counted: Counted, source: str) -> None:
        a = counted.answer
        for kind in counted.kinds:
            self.metrics.feedback(a.lane, a.model, a.arm, kind, source)
            served = self._recent.get(cid) if kind == ACCEPTED else None
            if served is not None and served.scope is not None:
                self.tuning.accepted(served.tenant, served.unit, served.scope,
                                     served.output_tokens)

    async def _sync(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.sync(loop.time())
            except Exception as exc:
                log.warning("feedback sync failed: %s", type(exc).__name__)
            await asyncio.sleep(self.sync_s)  # a period, not a synchronisation

    async def sync(self, now: float) -> None:
        by_model: dict[tuple[str, str], list[int]] = {}
        for (lane, model, _arm), c in (await self.store.totals()).items():
            acc = by_model.setdefault((lane, model), [0, 0])
            acc[0] += c.shown
            acc[1] += c.accepted
        for (lane, model), (shown, accepted) in by_model.items():
            self.board.absorb(lane, model, shown, accepted, now)
        for exp in self.experiments:
            winner = await self.store.winner(exp.name)
            if winner is None:
                arms = await self.store.arms(exp.name)
                found = exp.decide({n: ArmCounts(t.shown, t.accepted) for n, t in arms.items()})
                if found is not None:
                    winner = await self.store.decide(exp.name, found)
                    log.warning("experiment %s decided: %s", exp.name, winner)
            if winner is not None:
                self.winners[exp.name] = winner
            self.metrics.experiment_state(exp.name, exp.lane, winner)

    # -- reading -------------------------------------------------------------------------
    async def report(self) -> dict[str, Any]:
        """GET /laneway/experiments: from the shared counts, whichever replica answers."""
        out = []
        for exp in self.experiments:
            arms = await self.store.arms(exp.name)
            winner = await self.store.winner(exp.name)
            rows = []
            for name, cfg in exp.arms.items():
                t = arms.get(name)
                shown, accepted = (t.shown, t.accepted) if t else (0, 0)
                low, high = ci95(ArmCounts(shown, accepted))
                rows.append({
                    "name": name, "model": cfg.model, "units": t.units if t else 0,
                    "shown": shown, "accepted": accepted,
                    "acceptance_rate": round(accepted / shown, 4) if shown else None,
                    "ci95": [round(low, 4), round(high, 4)],
                    "ttft_p50_ms": _median(self._ttft.get((exp.name, name), ())),
                    "cost_usd_per_accepted": round(t.cost_usd / accepted, 8)
                    if t and accepted else None,
                })
            out.append({"name": exp.name, "lane": exp.lane,
                        "status": "decided" if winner else "running",
                        "winner": winner, "arms": rows})
        return {"experiments": out}


def _median(samples: Sequence[float]) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return round(ordered[len(ordered) // 2], 1)
