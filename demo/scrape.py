"""laneway's /metrics as numbers: scrape before and after a run, report the difference.

The difference, not the totals: the same laneway may have served other traffic before
(a load test, another test), and counters only ever grow.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Samples:
    values: dict[Key, float]

    def __sub__(self, before: Samples) -> Samples:
        return Samples({k: v - before.values.get(k, 0.0) for k, v in self.values.items()})

    def by(self, name: str, label: str, **match: str) -> dict[str, float]:
        """Sum of sample `name` per value of `label`, over samples whose labels match."""
        out: dict[str, float] = defaultdict(float)
        for (n, labels), v in self.values.items():
            d = dict(labels)
            if n == name and all(d.get(k) == want for k, want in match.items()):
                out[d.get(label, "")] += v
        return dict(out)

    def total(self, name: str, **match: str) -> float:
        return sum(self.by(name, "lane", **match).values())


def parse(text: str) -> Samples:
    values: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            # Only the counters laneway adds up; histograms' buckets are not needed here.
            if s.name.endswith("_total"):
                values[(s.name, frozenset(s.labels.items()))] = s.value
    return Samples(values)


def scrape(base_url: str, api_key: str | None = None) -> Samples:
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    r = httpx.get(base_url.rstrip("/") + "/metrics", headers=headers, timeout=10)
    r.raise_for_status()
    return parse(r.text)


def configured_models(base_url: str, api_key: str | None = None) -> list[dict[str, object]]:
    """GET /v1/models: every configured model with its tier and lanes (`auto` left out),
    so the report can show the models that served nothing too."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    r = httpx.get(base_url.rstrip("/") + "/v1/models", headers=headers, timeout=10)
    r.raise_for_status()
    return [{"name": m["id"], **(m.get("laneway") or {})} for m in r.json()["data"]
            if m["id"] != "auto"]
