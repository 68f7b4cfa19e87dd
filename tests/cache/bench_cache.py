"""What the cache costs a request: `.venv/bin/python tests/cache/bench_cache.py`.

Starts a private redis-server, then times plan (keying), L1 hits, L2 hits (L1 emptied),
typeahead lookups with a 16 kB prefix, and lookups while Redis is frozen (breaker closed,
then open). Prints medians and p99s; not a test (timings depend on the machine).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.append(str(Path(__file__).parents[1]))  # tests/, for procs

from cache_samples import Upstream, chat_chunks, completion_chunks
from procs import RedisServer

from cache.response_cache import FimParts, build_cache


class Rule:
    enabled, ttl_s, max_temperature, typeahead = True, 600, 0.3, True


def report(name: str, samples: list[float]) -> None:
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    unit, scale = ("us", 1e6) if p99 < 1e-3 else ("ms", 1e3)
    print(f"{name:<42} p50 {p50 * scale:8.1f} {unit}   p99 {p99 * scale:8.1f} {unit}")


async def timed(n: int, op) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        started = time.perf_counter()
        await op(i)
        out.append(time.perf_counter() - started)
    return out


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp))
        cache = build_cache(redis.url, False, 50, 64 << 20)
        await cache.start()
        messages = [{"role": "system", "content": "You are in chat mode. " * 40},
                    {"role": "user", "content": "Explain this code:\n" + "x = f(x)\n" * 800}]
        body = {"model": "auto", "messages": messages, "temperature": 0, "stream": True}

        def plan(i: int = 0):  # type: ignore[no-untyped-def]
            return cache.plan(tenant="t-a", model="fast", endpoint="chat", body=body, lane="qa",
                              rule=Rule())

        p = plan()
        flight = cache.join(p, streaming=True, source=Upstream(chat_chunks(["a " * 200])).stream)
        async for _ in flight.events():
            pass
        assert cache.l2 is not None
        await cache.l2.drain()

        async def do_plan(i: int) -> None:
            plan(i)

        async def l1_hit(i: int) -> None:
            assert (await cache.lookup(p)) is not None

        async def l2_hit(i: int) -> None:
            cache.l1.clear()
            hit = await cache.lookup(p)
            assert hit is not None and hit.tier == "l2"

        print(f"request body {len(str(body)) // 1024} kB")
        report("plan (key of the request)", await timed(2000, do_plan))
        report("lookup, L1 hit", await timed(20000, l1_hit))
        report("lookup, L2 hit (local redis-server)", await timed(2000, l2_hit))

        prefix = "def f(x):\n    return x\n" * 700
        fim_body = {"prompt": prefix, "temperature": 0.1, "max_tokens": 64, "stream": True}
        fp = cache.plan(tenant="t-a", model="fast", endpoint="completions", body=fim_body,
                        lane="completion", rule=Rule())
        fp = cache.refine(fp, tenant="t-a", params=fim_body, fim=FimParts(prefix, "\n"))
        flight = cache.join(fp, streaming=True,
                            source=Upstream(completion_chunks(["print(x)\n"])).stream)
        async for _ in flight.events():
            pass

        async def typeahead(i: int) -> None:
            typed = prefix + "pri"
            typed_body = fim_body | {"prompt": typed}
            q = cache.plan(tenant="t-a", model="fast", endpoint="completions", body=typed_body,
                           lane="completion", rule=Rule())
            q = cache.refine(q, tenant="t-a", params=typed_body, fim=FimParts(typed, "\n"))
            hit = await cache.lookup(q)
            assert hit is not None and hit.tier == "typeahead"

        print(f"typeahead prefix {len(prefix) // 1024} kB")
        report("plan + lookup, typeahead hit", await timed(2000, typeahead))

        redis.freeze()
        cache.l1.clear()
        report("lookup, Redis frozen (breaker closed)", await timed(3, l1_miss(cache, p)))
        report("lookup, Redis frozen (breaker open)", await timed(2000, l1_miss(cache, p)))
        redis.thaw()
        await cache.close()
        redis.kill()


def l1_miss(cache, p):  # type: ignore[no-untyped-def]
    async def op(i: int) -> None:
        cache.l1.clear()
        assert (await cache.lookup(p)) is None

    return op


if __name__ == "__main__":
    asyncio.run(main())
