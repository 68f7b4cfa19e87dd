"""Reuse: answer from what laneway already knows whenever the answer would be the same.

The pipeline uses `ResponseCache` (built by `build_cache` from config): `plan` a request,
`lookup` it (L1, typeahead, L2), `join` a single flight on a miss; completed answers are
stored by the flight. `DisabledCache` has the same interface and never caches.
"""

from cache.answer import StoredAnswer
from cache.keys import CacheRule, bypass_reason, request_key
from cache.response_cache import (
    CachePlan,
    DisabledCache,
    FimParts,
    Hit,
    ResponseCache,
    build_cache,
)
from cache.singleflight import Flight, FlightFailed

__all__ = [
    "CachePlan",
    "CacheRule",
    "DisabledCache",
    "FimParts",
    "Flight",
    "FlightFailed",
    "Hit",
    "ResponseCache",
    "StoredAnswer",
    "build_cache",
    "bypass_reason",
    "request_key",
]
