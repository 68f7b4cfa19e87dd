from __future__ import annotations

import orjson

from cache.answer import StoredAnswer
from cache.memory import MemoryCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(text: str) -> StoredAnswer:
    body = {"id": "x", "object": "text_completion",
            "choices": [{"text": text, "index": 0, "finish_reason": "stop"}]}
    return StoredAnswer("completions", orjson.dumps(body), "fast")


def test_hit_and_ttl() -> None:
    clock = Clock()
    l1 = MemoryCache(1 << 20, clock)
    a = answer("x")
    assert l1.put("k", a, 10)
    assert l1.get("k") is a
    clock.now += 9.9
    assert l1.get("k") is a
    clock.now += 0.2
    assert l1.get("k") is None
    assert len(l1) == 0 and l1.bytes == 0


def test_bounded_in_bytes_least_recently_used_goes_first() -> None:
    one = answer("y" * 1000)
    per_entry = one.size + len("k00") + 120
    l1 = MemoryCache(per_entry * 10)
    for i in range(10):
        assert l1.put(f"k{i:02d}", answer("y" * 1000), 60)
    assert l1.get("k00") is not None  # now the most recently used
    l1.put("k10", answer("y" * 1000), 60)
    assert l1.get("k01") is None and l1.get("k00") is not None
    assert l1.bytes <= l1.max_bytes and l1.evictions == 1
    for i in range(100):
        l1.put(f"n{i:02d}", answer("y" * 1000), 60)
    assert l1.bytes <= l1.max_bytes and len(l1) == 10


def test_replacing_a_key_keeps_the_byte_count_right() -> None:
    l1 = MemoryCache(1 << 20)
    l1.put("k", answer("a" * 100), 60)
    l1.put("k", answer("b" * 10), 60)
    assert len(l1) == 1
    assert l1.bytes == answer("b" * 10).size + 1 + 120


def test_too_big_or_zero_ttl_is_not_kept() -> None:
    l1 = MemoryCache(8000)
    assert not l1.put("k", answer("z" * 2000), 60)
    assert not l1.put("k", answer("z"), 0)
    assert MemoryCache(0).put("k", answer("z"), 60) is False
