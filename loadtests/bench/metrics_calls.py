"""What one metric update costs on the request path, in µs per call (best of 5).

    .venv/bin/python -m loadtests.bench.metrics_calls
"""

from __future__ import annotations

import timeit

from router.observe.metrics import Metrics, add, observe


def main() -> None:
    m = Metrics()
    counter = m.of(m.requests, "qa", "m", "200", "miss")
    gauge = m.of(m.inflight, "qa")
    histogram = m.of(m.duration, "qa", "m")
    n = 200_000
    for name, call in (("counter add", lambda: add(counter, 1.0)),
                       ("gauge add", lambda: add(gauge, 1.0)),
                       ("histogram observe", lambda: observe(histogram, 0.42))):
        best = min(timeit.repeat(call, number=n, repeat=5)) / n * 1e6
        print(f"{name}: {best:.3f} µs")


if __name__ == "__main__":
    main()
