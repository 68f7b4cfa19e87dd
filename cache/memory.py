"""L1: an in-process LRU of stored answers, bounded in bytes, with a TTL per entry.

Entries hold the `StoredAnswer` object itself, so a hit costs a dict lookup and hands
back bytes rendered once (the JSON body, or the SSE replay cached on the answer).
An answer larger than an eighth of the budget is not kept: one huge answer must not
flush everything else.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from cache.answer import StoredAnswer

_ENTRY_OVERHEAD = 120  # the key string, the (expires, size) tuple and two dict slots, roughly


class MemoryCache:
    __slots__ = ("_clock", "_entries", "_meta", "bytes", "evictions", "max_bytes")

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max(0, max_bytes)
        self.bytes = 0
        self.evictions = 0
        self._clock = clock
        # The answers in LRU order, and beside them (expires, size) per key: tuples of numbers,
        # which the garbage collector stops tracking, so a full L1 adds one tracked object
        # per entry to a full collection, not two (an (answer, expires, size) tuple is tracked).
        self._entries: OrderedDict[str, StoredAnswer] = OrderedDict()
        self._meta: dict[str, tuple[float, int]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> StoredAnswer | None:
        answer = self._entries.get(key)
        if answer is None:
            return None
        if self._meta[key][0] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return answer

    def put(self, key: str, answer: StoredAnswer, ttl_s: float) -> bool:
        """Keep `answer` for `ttl_s` seconds; False when it is too big to keep at all."""
        size = answer.size + len(key) + _ENTRY_OVERHEAD
        if ttl_s <= 0 or size > self.max_bytes // 8:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = answer
        self._meta[key] = (self._clock() + ttl_s, size)
        self.bytes += size
        while self.bytes > self.max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)
            self.evictions += 1
        return True

    def _drop(self, key: str) -> None:
        del self._entries[key]
        self.bytes -= self._meta.pop(key)[1]

    def clear(self) -> None:
        self._entries.clear()
        self._meta.clear()
        self.bytes = 0
