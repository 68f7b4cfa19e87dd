"""What a starting worker says once, and what /readyz answers: shapes, never secrets or paths.

The ready line names what an operator checks first (where to point clients, which models
serve which lanes, whether the cache is shared, which policy decides); /readyz adds the live
state of each model's breaker and of Redis. Neither names the config file: its absolute
path tells a caller about the host and nothing about laneway's health.
"""

from __future__ import annotations

import os
import time
from typing import Any

from policies.policy import LANE_NAMES
from router.runtime import Runtime


def _cache(rt: Runtime) -> str:
    state = rt.cache.state()
    return "in-process (no Redis)" if state == "disabled" else f"in-process + Redis ({state})"


def ready_line(rt: Runtime, address: str | None) -> str:
    where = f"http://{address}/v1" if address else "(address: see the server's options)"
    lanes = ", ".join(
        f"{lane} -> {' | '.join(m.name for m in rt.config.models if lane in m.lanes) or 'none'}"
        for lane in LANE_NAMES
    )
    models = ", ".join(f"{m.name} ({m.tier.name.lower()})" for m in rt.config.models)
    return (f"laneway ready on {where} (pid {os.getpid()}): models {models}; lanes {lanes}; "
            f"cache {_cache(rt)}; policy {rt.policy.name}")


def model_states(rt: Runtime) -> dict[str, str]:
    """Per model: `up`, `ejected` (cooling down after failures) or `probing` (half-open)."""
    now = time.monotonic()
    names = {"closed": "up", "open": "ejected", "half_open": "probing"}
    return {m.name: names[rt.chooser.breakers.state(m.name, now)] for m in rt.config.models}


def readiness(rt: Runtime) -> dict[str, Any]:
    """Ready as soon as the config is loaded: an ejected model or a Redis outage degrades
    laneway (it falls back, it serves from its own cache) but never makes it unready, since
    taking every replica out of a load balancer for an upstream's fault helps no one."""
    models = model_states(rt)
    redis = rt.cache.state()  # disabled (none configured), ok or degraded
    healthy = redis != "degraded" and all(s == "up" for s in models.values())
    return {"status": "ok" if healthy else "degraded", "policy": rt.policy.name,
            "models": models, "redis": redis}
