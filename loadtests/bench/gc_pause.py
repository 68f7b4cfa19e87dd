"""How long a full garbage collection takes with laneway's caches full.

    .venv/bin/python -m loadtests.bench.gc_pause

Fills an L1 (the default 32 MB of completion answers) and a typeahead index (its 20,000
anchors), then times full collections. What the caches keep long-lived is walked by every
full collection, which stops every request in flight meanwhile; objects the collector
stops tracking (tuples of strings, bytes and numbers) cost nothing there. The first
collection also untracks such tuples, so it is slower than the ones after it.
"""

from __future__ import annotations

import gc
import time
from collections import Counter

from cache.answer import StoredAnswer
from cache.memory import MemoryCache
from cache.response_cache import DEFAULT_L1_BYTES
from cache.typeahead import TypeaheadIndex, typeahead_scope

ANSWER = {
    "id": "cmpl-1", "object": "text_completion", "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "text": "    return sum(r.price * r.quantity\n               for r in rows)\n"}],
    "usage": {"prompt_tokens": 100, "completion_tokens": 30, "total_tokens": 130},
}


def main() -> int:
    gc.freeze()  # as the server does after start-up: only what the caches add is walked
    l1, index = MemoryCache(DEFAULT_L1_BYTES), TypeaheadIndex()
    n = 0
    while l1.bytes < DEFAULT_L1_BYTES * 0.98:
        answer = StoredAnswer.from_object("completions", ANSWER, "m")
        answer.compact()
        l1.put(f"lw:v1:r:{n:064x}", answer, 600)
        if n < index.max_candidates:
            scope = typeahead_scope(tenant="t", model="m", suffix=f"# {n}\n")
            index.remember(scope, f"def total_{n}(rows):\n", answer.text(), answer, 600)
        n += 1
    print(f"L1: {len(l1):,} answers, {l1.bytes / 1e6:.1f} MB; typeahead: {len(index):,} answers")
    print(f"tracked objects: {len(gc.get_objects()):,}")
    for i in range(3):
        start = time.perf_counter()
        gc.collect()
        print(f"full collection {i + 1}: {(time.perf_counter() - start) * 1000:.1f} ms, "
              f"{len(gc.get_objects()):,} objects tracked after it")
    kinds = Counter(type(o).__name__ for o in gc.get_objects()).most_common(3)
    print("most tracked: " + ", ".join(f"{k} {v:,}" for k, v in kinds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
