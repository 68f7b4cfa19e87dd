"""The demo's report: per lane, what the client saw and what laneway metered.

Client-side (from the replay): requests, model mix and cache tiers (the `x-laneway-*`
headers), time to first token. laneway-side (the /metrics difference over the run): tokens
in/trimmed/out (`laneway_tokens_total`), cost (`laneway_cost_usd_total`) and the saving
against sending everything, untrimmed, to the largest model (`laneway_cost_saved_usd_total`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from demo.replay import Obs
from demo.scrape import Samples

LANES = ("completion", "qa", "agentic")
HIT_TIERS = ("l1", "l2", "typeahead", "coalesced")  # answers that cost no upstream call


@dataclass(slots=True)
class LaneRow:
    lane: str
    requests: int = 0
    errors: int = 0
    aborted: int = 0
    misrouted: int = 0  # meant for another lane
    models: Counter[str] = field(default_factory=Counter)
    cache: Counter[str] = field(default_factory=Counter)  # x-laneway-cache values
    ttft_ms: list[float] = field(default_factory=list)
    trimmed_header: int = 0  # sum of x-laneway-trimmed-tokens
    tokens_in: float = 0.0
    tokens_trimmed: float = 0.0
    tokens_out: float = 0.0
    cost: float = 0.0
    saved: float = 0.0
    metered_requests: float = 0.0  # laneway_requests_total over the run

    @property
    def hits(self) -> int:
        return sum(self.cache[t] for t in HIT_TIERS)

    @property
    def baseline(self) -> float:
        """Cost had every request gone, untrimmed, to the largest model."""
        return self.cost + self.saved

    @property
    def saving(self) -> float:
        return self.saved / self.baseline if self.baseline else 0.0

    def p(self, q: float) -> float | None:
        return percentile(self.ttft_ms, q)


@dataclass(slots=True)
class Report:
    rows: list[LaneRow]
    seed: int
    elapsed_s: float
    policy: str
    observations: list[Obs] = field(default_factory=list)  # every request, as sent
    # Every configured model ({"name", "tier", "lanes", ...}), unused ones included.
    models: list[dict[str, object]] = field(default_factory=list)
    targets_ms: dict[str, float] = field(default_factory=dict)  # per lane, from the policy

    @property
    def total(self) -> LaneRow:
        t = LaneRow("total")
        for r in self.rows:
            t.requests += r.requests
            t.errors += r.errors
            t.aborted += r.aborted
            t.misrouted += r.misrouted
            t.models.update(r.models)
            t.cache.update(r.cache)
            t.ttft_ms += r.ttft_ms
            t.trimmed_header += r.trimmed_header
            t.tokens_in += r.tokens_in
            t.tokens_trimmed += r.tokens_trimmed
            t.tokens_out += r.tokens_out
            t.cost += r.cost
            t.saved += r.saved
            t.metered_requests += r.metered_requests
        return t

    def row(self, lane: str) -> LaneRow:
        return next(r for r in self.rows if r.lane == lane)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile: always a value that was observed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def build(observations: list[Obs], metered: Samples, seed: int, elapsed_s: float,
          policy: str = "default") -> Report:
    rows = {lane: LaneRow(lane) for lane in LANES}
    for o in observations:
        # Grouped as laneway classified them (that is how it meters); a request that failed
        # before laneway answered is shown under the lane it was meant for.
        r = rows.setdefault(o.lane or o.expected, LaneRow(o.lane or o.expected))
        r.requests += 1
        r.errors += o.error is not None
        r.aborted += o.aborted
        r.misrouted += bool(o.lane) and o.lane != o.expected
        if o.model:
            r.models[o.model] += 1
        if o.cache:
            r.cache[o.cache] += 1
        if o.ttft_s is not None:
            r.ttft_ms.append(o.ttft_s * 1000)
        r.trimmed_header += o.trimmed
    requests = metered.by("laneway_requests_total", "lane")
    cost = metered.by("laneway_cost_usd_total", "lane")
    saved = metered.by("laneway_cost_saved_usd_total", "lane")
    tokens = {kind: metered.by("laneway_tokens_total", "lane", kind=kind)
              for kind in ("input", "trimmed", "output")}
    for lane, r in rows.items():
        r.metered_requests = requests.get(lane, 0.0)
        r.cost, r.saved = cost.get(lane, 0.0), saved.get(lane, 0.0)
        r.tokens_in = tokens["input"].get(lane, 0.0)
        r.tokens_trimmed = tokens["trimmed"].get(lane, 0.0)
        r.tokens_out = tokens["output"].get(lane, 0.0)
    return Report([r for r in rows.values() if r.requests or r.lane in LANES], seed,
                  elapsed_s, policy, observations)


# -- formatting shared by the terminal and HTML renderings ------------------------------------

def ms(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f} ms"


def usd(v: float) -> str:
    return f"${v:,.4f}" if v < 1 else f"${v:,.2f}"


def count(v: float) -> str:
    return f"{v:,.0f}"


def model_mix(r: LaneRow) -> str:
    n = sum(r.models.values())
    return ", ".join(f"{m} {100 * c / n:.0f}%" for m, c in r.models.most_common()) or "—"


def cache_mix(r: LaneRow) -> str:
    hits = [f"{t} {r.cache[t]}" for t in HIT_TIERS if r.cache[t]]
    if not hits:
        return "none"
    return f"{100 * r.hits / max(1, r.requests):.0f}% ({', '.join(hits)})"
