"""Per-app mutable state: the request log, runtime faults and counters.

One FleetState lives in each aiohttp Application (never at module level), so several
fleets can run in one process, as the proxy's tests do.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from fleet.faults import NO_FAULT, FaultSpec
from fleet.profiles import FleetSettings

Entry = dict[str, Any]
T = TypeVar("T")
_MEMO_ENTRIES = 1024
_MEMO_MAX_BODY = 16 * 1024

# Headers worth keeping in the log besides Authorization (kept whole, see below).
_LOGGED_HEADERS = (
    "content-type", "user-agent", "x-request-id", "x-fleet-fault", "originator", "x-title",
    "accept", "openai-organization", "openai-project", "x-laneway-probe",
)


class FleetState:
    def __init__(self, settings: FleetSettings) -> None:
        self.settings = settings
        self._log: deque[Entry] = deque(maxlen=settings.log_limit)
        self._runtime_faults: dict[str, FaultSpec] = {}
        # Seeded so that error_rate decisions repeat from run to run.
        self.rng = random.Random(settings.seed)
        self._next_id = 0
        self._waiters = 0
        self._changed = asyncio.Event()
        self.by_model: Counter[str] = Counter()
        self.by_path: Counter[str] = Counter()
        self.by_state: Counter[str] = Counter()
        self.inflight = 0
        # Answers depend only on the body, so repeated bodies (load tests, typeahead bursts)
        # reuse the parsed Job. Bounded in count and body size to bound memory.
        self._jobs: dict[tuple[str, bytes], Any] = {}
        self._body_bytes = 0  # sum of body sizes still held by the log
        self._with_body: deque[Entry] = deque()  # logged entries holding a body, oldest first

    # -- faults ---------------------------------------------------------------------------
    def effective_fault(self, model: str, header: FaultSpec | None) -> FaultSpec:
        """Config "*" < config model < runtime "*" < runtime model < request header."""
        if header is None and not self._runtime_faults and not self.settings.faults:
            return NO_FAULT  # the common case, kept cheap for zero-latency benchmarks
        spec = NO_FAULT
        for source in (self.settings.faults, self._runtime_faults):
            spec = spec.merged(source.get("*")).merged(source.get(model))
        return spec.merged(header)

    def set_fault(self, model: str, spec: FaultSpec) -> None:
        self._runtime_faults[model] = self._runtime_faults.get(model, NO_FAULT).merged(spec)

    def clear_faults(self, model: str | None) -> None:
        if model is None:
            self._runtime_faults.clear()
        else:
            self._runtime_faults.pop(model, None)

    def runtime_faults(self) -> dict[str, dict[str, Any]]:
        return {model: spec.as_dict() for model, spec in self._runtime_faults.items()}

    def reset(self) -> None:
        self._log.clear()
        self._with_body.clear()
        self._body_bytes = 0
        self._runtime_faults.clear()
        self.by_model.clear()
        self.by_path.clear()
        self.by_state.clear()
        self.rng = random.Random(self.settings.seed)
        self._notify()

    def job_for(self, kind: str, raw: bytes, body: Any, parse: Callable[[Any], T]) -> T:
        if len(raw) > _MEMO_MAX_BODY:
            return parse(body)
        key = (kind, raw)
        job: T | None = self._jobs.get(key)
        if job is None:
            job = parse(body)
            if len(self._jobs) >= _MEMO_ENTRIES:
                del self._jobs[next(iter(self._jobs))]  # oldest first
            self._jobs[key] = job
        return job

    # -- request log ----------------------------------------------------------------------
    def begin(
        self, request: web.Request, model: str | None, body: Any, size: int, stream: bool
    ) -> Entry:
        """Log a request as `pending`; `size` is its body's length in bytes."""
        self._next_id += 1
        headers = request.headers
        auth = headers.get("authorization")
        entry: Entry = {
            "id": f"req_{self._next_id:06d}",
            "path": request.path,
            "model": model,
            "body": body,
            "body_bytes": size,
            "stream": stream,
            "headers": {k: headers[k] for k in _LOGGED_HEADERS if k in headers},
            # Kept verbatim on purpose: proxy tests assert the configured upstream key is sent.
            "authorization": {"present": auth is not None, "value": auth},
            "received_at": time.time(),
            "finished_at": None,
            "state": "pending",
            "status": None,
            "fault": None,
        }
        if len(self._log) == self._log.maxlen:
            self._drop_body(self._log[0])  # about to fall off the ring
        self._log.append(entry)
        self._keep_bodies_in_budget(entry)
        self.by_model[model or ""] += 1
        self.by_path[request.path] += 1
        self.inflight += 1
        self._notify()
        return entry

    def _drop_body(self, entry: Entry) -> None:
        if entry["body"] is not None:
            self._body_bytes -= entry["body_bytes"]
            entry["body"] = None
            entry["body_dropped"] = True

    def _keep_bodies_in_budget(self, entry: Entry) -> None:
        # Agentic bodies can be megabytes: past the budget the oldest logged bodies are
        # dropped (their entries stay), so long load tests cannot exhaust memory.
        if entry["body"] is not None:
            self._body_bytes += entry["body_bytes"]
            self._with_body.append(entry)
        with_body = self._with_body
        while with_body and (
            with_body[0]["body"] is None
            or (self._body_bytes > self.settings.log_body_bytes and with_body[0] is not entry)
        ):
            self._drop_body(with_body.popleft())

    def finish(self, entry: Entry, state: str, status: int | None) -> None:
        if entry["state"] != "pending":
            return
        entry.update(state=state, status=status, finished_at=time.time())
        self.by_state[state] += 1
        self.inflight -= 1
        self._notify()

    def entries(self, filters: Mapping[str, str]) -> list[Entry]:
        found = list(self._log)
        for key in ("model", "state", "path"):
            if key in filters:
                found = [e for e in found if str(e[key]) == filters[key]]
        return found

    def stats(self) -> dict[str, Any]:
        return {
            "total": sum(self.by_path.values()),
            "inflight": self.inflight,
            "by_model": dict(self.by_model),
            "by_path": dict(self.by_path),
            "by_state": dict(self.by_state),
            "runtime_faults": self.runtime_faults(),
        }

    # -- waiting (lets tests wait for an outcome without sleeping) -------------------------
    def _notify(self) -> None:
        if self._waiters:
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._waiters += 1
        try:
            while not condition():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                changed = self._changed
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    return condition()
            return True
        finally:
            self._waiters -= 1


STATE: web.AppKey[FleetState] = web.AppKey("fleet_state", FleetState)
