"""Every metric laneway exports, declared in one place (names and labels are the contract's)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# One family serves every lane, so buckets span completion milliseconds to agentic minutes;
# dense below 1 s where the completion target (300 ms) sits.
LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
    1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, 60.0, 120.0, 300.0,
)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "laneway_"
        self.requests = Counter(
            p + "requests", "Requests answered", ["lane", "model", "status", "cache"], registry=r
        )
        self.duration = Histogram(
            p + "request_duration_seconds", "Arrival to last byte", ["lane", "model"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            p + "time_to_first_token_seconds", "Arrival to first byte of the answer",
            ["lane", "model"], buckets=LATENCY_BUCKETS, registry=r,
        )
        self.overhead = Histogram(
            p + "overhead_seconds", "laneway's own time on a request (upstream time excluded)",
            ["lane"], buckets=OVERHEAD_BUCKETS, registry=r,
        )
        self.tokens = Counter(
            p + "tokens", "Tokens by kind (input, output, trimmed)", ["lane", "model", "kind"],
            registry=r,
        )
        self.cache_events = Counter(
            p + "cache_events", "Cache lookups and writes", ["tier", "result"], registry=r
        )
        self.cost = Counter(p + "cost_usd", "Spend at list price", ["lane", "model"], registry=r)
        self.cost_saved = Counter(
            p + "cost_saved_usd",
            "Saving against sending everything to the largest model (cache hits included)",
            ["lane"], registry=r,
        )
        self.upstream_errors = Counter(
            p + "upstream_errors", "Failed upstream attempts", ["model", "reason"], registry=r
        )
        self.inflight = Gauge(
            p + "inflight_requests", "Requests in progress", ["lane"], registry=r
        )
        self.model_up = Gauge(
            p + "model_up", "1 when the model is taking traffic, 0 while ejected", ["model"],
            registry=r,
        )
