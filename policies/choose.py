"""Choosing the model for a request: an ordered list of candidates to try, with reasons.

Rules (`choose`, for `model: auto`):
1. Candidates serve the lane, have what the request needs (tools; a FIM family or
   `suffix` support for completions) and a context window that holds the trimmed input
   plus the expected output. Ejected models (open breaker) are left out; a half-open one
   is a candidate (in its usual place) only for the request that is handed its one trial.
2. Models predicted within the lane's TTFT target (or without data: assumed fine) come
   first, ordered by the objective: cheapest = lowest predicted cost; best_quality =
   largest tier, then cheapest; fastest = lowest predicted TTFT (without data: a prior of
   a quarter/half/three quarters of the target for small/medium/large). Then the models
   over the target, least slow first. The pipeline tries them in order, once each. A
   request that does not stream waits for the whole answer: it is judged by the learned
   whole-answer time (latency.predict).
3. Session affinity (lanes with `affinity`): the conversation's model goes first while it
   is a healthy candidate, whatever its latency, so its prefix cache stays warm.
4. Acceptance (lanes with `acceptance_margin`): among the models within target, another
   replaces the objective's first only when its learned acceptance is higher by more than
   the margin at 95% confidence (always-valid interval: no flapping on noise). An `explore`
   share of the lane's requests (counted, not drawn at random) goes first to the
   least-measured other model within target that is not known to be worse, so every
   estimate that matters keeps growing.
5. Probes: a model avoided for latency that the objective would otherwise prefer goes
   first for one request now and then (<= probe_share of the lane, >= probe_interval_s
   apart, never an ejected or half-open one), so a recovered model wins its traffic back.
5. `max_tokens` is a ceiling, not a demand: a model whose window holds the input but not
   the whole ceiling is a candidate (the ceiling is lowered to what fits, `output_room`),
   placed after every candidate where it fits whole. Only an input that leaves no room for
   even a few output tokens makes a model unfit.
6. No candidate left: an empty Choice whose reasons say why; `retry_after_s` is set when
   ejections are the cause (503 with retry-after); `unfit` when the request itself is what
   no model can take (its input too long: `too_long`, or tools / FIM no model offers).
`pinned` tries the named model, then only its configured `fallbacks`.
`dry_run=True` (explain) changes no state: no probe, no half-open trial handed out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policies.acceptance import AcceptanceBoard
from policies.affinity import AffinityTable
from policies.breaker import BreakerBoard
from policies.catalog import ModelSpec, Tier
from policies.latency import LatencyTracker
from policies.policy import LANE_NAMES, LanePolicy, Policy
from policies.sequential import Rate, better_by

_PRIOR_SHARE = {Tier.SMALL: 0.25, Tier.MEDIUM: 0.5, Tier.LARGE: 0.75}
# The least room for output that makes a model worth calling: with less, every answer
# would be cut off after a word or two.
MIN_OUTPUT_TOKENS = 16
_WINDOW = "window "  # how a window rejection's reason starts

# Needs, Candidate and Choice are built several times per request and never changed once
# built; not `frozen`, whose __init__ sets each field through object.__setattr__ (~0.9 us
# more per object here).


@dataclass(slots=True)
class Needs:
    tools: bool = False  # the request offers tools or carries tool-call history
    fim: bool = False  # a fill-in-the-middle completion
    input_tokens: int = 0  # estimated after trimming
    output_tokens: int = 0  # expected output (e.g. the capped max_tokens); 0: lane's guess
    session: str | None = None  # affinity.session_key(...)
    stream: bool = True  # False: the client waits for the whole answer, and is routed by it
    allowed: frozenset[str] | None = None  # the team's models; None: every model


@dataclass(slots=True)
class Candidate:
    model: ModelSpec
    predicted_ttft_ms: float | None  # learned EWMA; None without data
    predicted_cost_usd: float  # for the estimated input and expected output
    within_target: bool
    healthy: bool  # False: ejected by its circuit breaker
    reasons: tuple[str, ...]
    fits_whole: bool = True  # False: the output ceiling must be lowered for its window
    acceptance: Rate | None = None  # learned (decayed); only for lanes that use it


@dataclass(slots=True)
class Choice:
    lane: str
    candidates: tuple[Candidate, ...]  # try in this order, once each
    rejected: tuple[Candidate, ...]  # with why in their reasons
    reasons: tuple[str, ...]  # why the first candidate, or why none
    probe: bool = False  # the first candidate is a latency probe
    retry_after_s: float | None = None  # only when empty because models are ejected
    unfit: bool = False  # empty because of the request itself (tools, FIM, length)
    too_long: bool = False  # ... and its input is too long for every model that could serve it

    @property
    def model(self) -> ModelSpec | None:
        return self.candidates[0].model if self.candidates else None


def _head(lane: str, lp: LanePolicy) -> str:
    return f"lane {lane}: {lp.objective}, ttft target {lp.ttft_target_ms} ms"


class Chooser:
    def __init__(
        self,
        models: Sequence[ModelSpec],
        policy: Policy,
        latency: LatencyTracker | None = None,
        breakers: BreakerBoard | None = None,
        affinity: AffinityTable | None = None,
        acceptance: AcceptanceBoard | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # State objects are injectable so a config reload can carry them over.
        self.policy = policy
        self.latency = latency or LatencyTracker()
        self.breakers = breakers or BreakerBoard(policy.breaker)
        self.affinity = affinity or AffinityTable()
        self.acceptance = acceptance or AcceptanceBoard()
        self._explored = dict.fromkeys(LANE_NAMES, 0.0)
        self._clock = clock
        self._by_name = {m.name: m for m in models}
        self._order = {m.name: i for i, m in enumerate(models)}
        self._serving = {lane: tuple(m for m in models if lane in m.lanes) for lane in LANE_NAMES}
        # Models outside the lane are rejected the same way on every request: built once,
        # without per-request predictions (their cost is 0.0, their TTFT None).
        self._others = {
            lane: tuple(
                Candidate(m, None, 0.0, False, True, (f"does not serve {lane}",))
                for m in models
                if lane not in m.lanes
            )
            for lane in LANE_NAMES
        }
        self._keys = {lane: self._key(policy.lane(lane)) for lane in LANE_NAMES}
        self._heads = {lane: _head(lane, policy.lane(lane)) for lane in LANE_NAMES}

    # -- decisions -------------------------------------------------------------------
    def choose(self, lane: str, needs: Needs, *, dry_run: bool = False) -> Choice:
        lp = self.policy.lane(lane)
        now = self._clock()
        out = needs.output_tokens or lp.expected_output_tokens
        fast: list[Candidate] = []
        slow: list[Candidate] = []
        rejected: list[Candidate] = []
        for m in self._serving[lane]:
            unfit = self._unfit(m, needs, out)
            if unfit is not None:
                rejected.append(self._reject(m, lane, needs, out, unfit))
                continue
            c = self._rate(m, lane, lp, needs, out, now, dry_run)
            if not c.healthy:
                rejected.append(c)
            else:
                (fast if c.within_target else slow).append(c)
        rejected.extend(self._others[lane])
        key = self._keys[lane]
        fast.sort(key=key)
        slow.sort(key=lambda c: (c.predicted_ttft_ms or 0.0, c.predicted_cost_usd, self._pos(c)))
        ordered = fast + slow
        if not all(c.fits_whole for c in ordered):
            ordered.sort(key=lambda c: not c.fits_whole)  # stable: the order above otherwise
        head = self._heads.get(lane) or _head(lane, lp)
        if not ordered:
            return self._empty(lane, head, rejected, now)
        reasons = [head]
        probe = False
        if lp.acceptance_margin is not None:
            why = self._by_acceptance(lane, lp, fast, ordered, dry_run)
            if why is not None:
                reasons.append(why)
        sticky = self._sticky(needs, ordered, now) if lp.affinity else None
        if sticky is not None:
            ordered.remove(sticky)
            ordered.insert(0, sticky)
            reasons.append(f"{sticky.model.name}: session affinity (conversation stays on it)")
        elif not dry_run:
            self.latency.count_request(lane)
            target = self._probe_target(lane, lp, ordered, key, now)
            if target is not None:
                probe = True
                self.latency.probed(target.model.name, lane, now)
                ordered.remove(target)
                ordered.insert(0, target)
                reasons.append(f"{target.model.name}: latency probe, over target but preferred")
        if len(reasons) == 1:
            first = ordered[0]
            why = "within target" if first.within_target else "none within target; least slow"
            reasons.append(f"{first.model.name}: first by {lp.objective} ({why})")
        avoided = [c.model.name for c in slow if c is not ordered[0]]
        if avoided:
            reasons.append("over target, avoided: " + ", ".join(avoided))
        return Choice(lane, tuple(ordered), tuple(rejected), tuple(reasons), probe)

    def pinned(self, name: str, lane: str, needs: Needs, *, dry_run: bool = False) -> Choice:
        """The client named a model: that model (whatever its lanes or latency), then only
        its configured fallbacks that fit the request. KeyError for an unknown name."""
        lp = self.policy.lane(lane)
        now = self._clock()
        out = needs.output_tokens or lp.expected_output_tokens
        pin = self._by_name[name]
        chain = [pin] + [self._by_name[f] for f in pin.fallbacks if f != name]
        ok: list[Candidate] = []
        rejected: list[Candidate] = []
        for i, m in enumerate(chain):
            # The pinned model itself is the client's explicit choice: no fit checks.
            unfit = self._unfit(m, needs, out) if i > 0 else None
            if unfit is not None:
                rejected.append(self._reject(m, lane, needs, out, unfit))
                continue
            c = self._rate(m, lane, lp, needs, out, now, dry_run)
            (ok if c.healthy else rejected).append(c)
        head = f"pinned to {name}" + (
            f", fallbacks: {', '.join(pin.fallbacks)}" if pin.fallbacks else ""
        )
        if not ok:
            return self._empty(lane, head, rejected, now)
        if lp.acceptance_margin is not None:  # what explain shows, whoever chose the model
            for c in ok:
                c.acceptance = self.acceptance.rate(lane, c.model.name)
        return Choice(lane, tuple(ok), tuple(rejected), (head,))

    # -- outcomes (called by the pipeline for every upstream attempt) -----------------
    def record_success(
        self, model: str, lane: str, ttft_s: float | None, session: str | None = None,
        streamed: bool = True,
    ) -> None:
        """ttft_s: time to the first streamed token, or (`streamed=False`) to the whole
        answer; None: nothing to learn (e.g. a shared or cached answer)."""
        now = self._clock()
        if ttft_s is not None:
            self.latency.record(model, lane, ttft_s * 1000.0, now, whole=not streamed)
        self.breakers.success(model)
        if session is not None and self.policy.lane(lane).affinity:
            self.affinity.put(session, model, now)

    def record_failure(self, model: str, reason: str) -> None:
        """An upstream fault (connect error, timeout, 5xx, 429), not a 4xx of the request."""
        self.breakers.failure(model, self._clock(), reason)

    # -- helpers ---------------------------------------------------------------------
    def _by_acceptance(
        self,
        lane: str,
        lp: LanePolicy,
        fast: list[Candidate],
        ordered: list[Candidate],
        dry_run: bool,
    ) -> str | None:
        """Reorders `ordered` (fast first) by acceptance and exploration; the reason."""
        for c in ordered:
            c.acceptance = self.acceptance.rate(lane, c.model.name)
        if len(fast) < 2:
            return None
        margin = lp.acceptance_margin or 0.0
        # The cheapest, unless a candidate beats it by more than the margin; then the
        # cheapest of those, and so on: a pricier model must earn its place against each
        # cheaper winner, not merely against the cheapest.
        first = chosen = fast[0]
        while True:
            base = chosen.acceptance or Rate(0, 0)
            beats = next((
                c for c in fast
                if c is not chosen and c.acceptance is not None
                and better_by(base, c.acceptance, margin, 0.95)
            ), None)
            if beats is None:
                break
            chosen = beats
        why = None
        if chosen is not first:
            _to_front(ordered, chosen)
            rate = chosen.acceptance.mean if chosen.acceptance else 0.0
            why = (
                f"{chosen.model.name}: acceptance {rate:.0%} beats {first.model.name}"
                f" by more than {margin:.0%} (95% confidence)"
            )
        if dry_run or lp.explore <= 0:
            return why
        self._explored[lane] += lp.explore
        if self._explored[lane] < 1.0:
            return why
        self._explored[lane] -= 1.0
        # Only a candidate that might still be good enough is worth a user's request: one
        # known (at 95%) to be worse than the chosen one by more than the margin is left out
        # until its decayed count has thinned and its interval widened again, which
        # re-measures it in time.
        head = chosen.acceptance
        open_ = [
            c for c in fast if c is not chosen and (
                c.acceptance is None or head is None
                or not better_by(c.acceptance, head, margin, 0.95))
        ]
        if not open_:
            return why
        pick = min(open_, key=lambda c: (c.acceptance.shown if c.acceptance else 0.0))
        _to_front(ordered, pick)
        return f"{pick.model.name}: explore (acceptance kept measured)"

    def _rate(
        self,
        m: ModelSpec,
        lane: str,
        lp: LanePolicy,
        needs: Needs,
        out: int,
        now: float,
        dry_run: bool,
    ) -> Candidate:
        room = output_room(m, needs.input_tokens, out)
        cost = m.cost(needs.input_tokens, room)
        ttft = self.latency.predict(m.name, lane, needs.stream)
        ok = self.breakers.available(m.name, now) if dry_run else self.breakers.allow(m.name, now)
        if not ok:
            return Candidate(m, ttft, cost, False, False, (self.breakers.describe(m.name, now),))
        target = lp.ttft_target_ms
        if ttft is None:
            within, why = True, "no latency data yet: assumed fine"
        else:
            within = ttft <= target
            what = "ttft" if needs.stream else "whole answer"
            why = f"{what} {ttft:.0f} ms {'<=' if within else '>'} {target} ms"
        whole = room >= out
        reasons: tuple[str, ...] = (why,) if whole else (
            why, f"output ceiling lowered to {room} tokens to fit its window")
        if self.breakers.state(m.name, now) == "half_open":
            reasons += ("half-open: trial request",)
        return Candidate(m, ttft, cost, within, True, reasons, whole)

    def _reject(self, m: ModelSpec, lane: str, needs: Needs, out: int, why: str) -> Candidate:
        cost = m.cost(needs.input_tokens, out)
        ttft = self.latency.predict(m.name, lane, needs.stream)
        return Candidate(m, ttft, cost, False, True, (why,))

    @staticmethod
    def _unfit(m: ModelSpec, needs: Needs, out: int) -> str | None:
        if needs.allowed is not None and m.name not in needs.allowed:
            return "not among the team's models"
        if needs.tools and not m.supports_tools:
            return "no tool support"
        if needs.fim and m.fim is None and not m.supports_suffix:
            return "no FIM family and no suffix support"
        least = min(out, MIN_OUTPUT_TOKENS)
        if needs.input_tokens + least > m.context_window:
            return f"{_WINDOW}{m.context_window} < {needs.input_tokens} + {least} tokens"
        return None

    def _pos(self, c: Candidate) -> int:
        return self._order[c.model.name]

    def _key(self, lp: LanePolicy) -> Callable[[Candidate], tuple[float, ...]]:
        """Sort key of the objective, ignoring whether a model is within target."""
        if lp.objective == "cheapest":
            # Among equal prices the larger tier: same money, better answers.
            return lambda c: (c.predicted_cost_usd, -c.model.tier, self._pos(c))
        if lp.objective == "best_quality":
            return lambda c: (-c.model.tier, c.predicted_cost_usd, self._pos(c))
        target = lp.ttft_target_ms

        def fastest(c: Candidate) -> tuple[float, ...]:
            ttft = c.predicted_ttft_ms
            if ttft is None:
                ttft = target * _PRIOR_SHARE[c.model.tier]
            return (ttft, c.predicted_cost_usd, self._pos(c))

        return fastest

    def _sticky(self, needs: Needs, ordered: list[Candidate], now: float) -> Candidate | None:
        if needs.session is None:
            return None
        name = self.affinity.get(needs.session, now)
        return next((c for c in ordered if c.model.name == name), None) if name else None

    def _probe_target(
        self,
        lane: str,
        lp: LanePolicy,
        ordered: list[Candidate],
        key: Callable[[Candidate], tuple[float, ...]],
        now: float,
    ) -> Candidate | None:
        if not self.latency.probe_due(lane, now, lp.probe_share, lp.probe_interval_s):
            return None
        first = ordered[0]
        # Only a model that would win if it were fast again is worth a slow request; for
        # `fastest` that is any over-target model, since its stale average is all we know.
        eligible = [
            c
            for c in ordered[1:]
            if not c.within_target
            and self.breakers.state(c.model.name, now) == "closed"
            and (lp.objective == "fastest" or key(c) < key(first))
        ]
        if not eligible:
            return None
        return min(eligible, key=lambda c: (self.latency.last_probe(c.model.name, lane), key(c)))

    def _empty(self, lane: str, head: str, rejected: list[Candidate], now: float) -> Choice:
        ejected = [c for c in rejected if not c.healthy]
        if ejected:
            retry = min(self.breakers.retry_in(c.model.name, now) for c in ejected)
            names = ", ".join(f"{c.model.name} ({c.reasons[0]})" for c in ejected)
            msg = f"no healthy model for lane {lane}: {names}"
            return Choice(lane, (), tuple(rejected), (head, msg), retry_after_s=max(1.0, retry))
        why = "; ".join(f"{c.model.name}: {c.reasons[0]}" for c in rejected) or "no models"
        # Models outside the lane say nothing about the request; a lane without any model is
        # the config's doing (503), any other refusal the request's own (400).
        unfit = [c for c in rejected if not c.reasons[0].startswith("does not serve")]
        too_long = any(c.reasons[0].startswith(_WINDOW) for c in unfit)
        return Choice(lane, (), tuple(rejected), (head, f"no model can serve this request: {why}"),
                      unfit=bool(unfit), too_long=too_long)


def output_room(m: ModelSpec, input_tokens: int, ceiling: int) -> int:
    """The output ceiling `m` can honour beside `input_tokens`: the ceiling, or less."""
    return max(0, min(ceiling, m.context_window - input_tokens))


def _to_front(ordered: list[Candidate], c: Candidate) -> None:
    ordered.remove(c)
    ordered.insert(0, c)
