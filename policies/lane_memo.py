"""Remembered lane decisions: a repeated small chat (a cache hit, a retry) skips `classify`
(and, when it fits its budget by bytes, trimming)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import orjson

from policies.lanes import OVERRIDE_HEADER, Endpoint, LaneDecision, classify
from policies.trim import TrimResult

# classify is a pure function of the endpoint, the body and these headers: a chat seen
# before (a cache hit, a retry) reuses its decision. Chat and Responses only (classifying
# a legacy completion costs less than the key); small bodies only (the key is a hash of the
# serialised body, and serialising a big one costs more than classifying it).
_MEMO_ENDPOINTS = (Endpoint.CHAT, Endpoint.RESPONSES, Endpoint.MESSAGES)
_MEMO_HEADERS = (OVERRIDE_HEADER, "user-agent", "x-title", "originator")
_MEMO_MAX_BODY = 4096


class Remembered:
    """What is remembered of one body: classify's decision and, once plan has made it, a
    trim made of byte sizes and estimates only (`TrimResult.estimated`: a pure function of
    the body and its lane's budget, both fixed for this memo's Runtime)."""

    __slots__ = ("decision", "trim")

    def __init__(self, decision: LaneDecision) -> None:
        self.decision = decision
        self.trim: TrimResult | None = None


class LaneMemo:
    """`classify` with a bounded memory of recent small chat bodies; one per Runtime."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.decisions: OrderedDict[tuple[Endpoint, int, int], Remembered] = OrderedDict()

    def recall(
        self, endpoint: Endpoint, body: dict[str, Any], headers: Mapping[str, str],
        body_bytes: int,
    ) -> Remembered:
        """The body's entry (a fresh one, not kept, for bodies the memo does not take)."""
        if endpoint not in _MEMO_ENDPOINTS or body_bytes > _MEMO_MAX_BODY:
            return Remembered(classify(endpoint, body, headers))
        try:
            raw = orjson.dumps(body)
        except orjson.JSONEncodeError:
            return Remembered(classify(endpoint, body, headers))
        if len(raw) > _MEMO_MAX_BODY:
            return Remembered(classify(endpoint, body, headers))
        # A fixed-size key, whatever the headers hold: Python's hash of bytes and str is
        # SipHash keyed by a random per-process secret, so no client can forge a
        # collision; the length and the endpoint are kept beside it all the same.
        key = (endpoint, len(raw), hash((raw, *(headers.get(h) for h in _MEMO_HEADERS))))
        entry = self.decisions.get(key)
        if entry is not None:
            self.decisions.move_to_end(key)
            return entry
        entry = self.decisions[key] = Remembered(classify(endpoint, body, headers))
        if len(self.decisions) > self.size:
            self.decisions.popitem(last=False)
        return entry
