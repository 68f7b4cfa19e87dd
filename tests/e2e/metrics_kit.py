"""Traffic in all three lanes, and reading a /metrics page, for the metrics end-to-end tests."""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from procs import Proc, RedisServer, fleet_models, free_port
from prometheus_client.parser import text_string_to_metric_families

FIM = "<|fim_prefix|>def area(r):\n    return <|fim_suffix|>\n\nprint(area(2))\n<|fim_middle|>"
TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]
BROKEN = "broken-coder"


KIT_KEY, KIT_TEAM = "sk-metrics-kit-key", "kit"
KIT_AUTH = {"authorization": f"Bearer {KIT_KEY}"}


def config(fleet_url: str, redis_url: str | None = None) -> dict[str, Any]:
    """The fleet's three models plus one nobody listens for, pinned to cause upstream errors.
    It is priced out of every automatic choice, so only pinned requests reach it."""
    models = fleet_models(fleet_url)
    models.append({
        "name": BROKEN, "api_base": f"http://127.0.0.1:{free_port()}/v1", "tier": "small",
        "lanes": ["qa"], "price_per_mtok": {"input": 900.0, "output": 900.0},
    })
    # One team with a budget, so its spend series (the dashboard's team row) exist.
    server = {"api_keys": [{"key": KIT_KEY, "team": KIT_TEAM,
                            "budget": {"usd": 1000, "period": "month"}}]}
    return {"server": server, "models": models} | (
        {"redis": {"url": redis_url}} if redis_url else {})


@contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A private redis-server (a cache: nothing on disk); yields its URL."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: `make redis-server` installs it (Debian package)")
    with RedisServer(tmp) as server:
        yield server.url


def lane_requests(i: int) -> list[tuple[str, dict[str, Any]]]:
    """One request per lane, streamed and not; `i` keeps their bodies apart."""
    return [
        ("/v1/completions", {"model": "auto", "prompt": FIM.replace("area", f"area{i}"),
                             "max_tokens": 8, "temperature": 0.0, "stream": True}),
        ("/v1/chat/completions", {"model": "auto", "max_tokens": 12, "messages": [
            {"role": "user", "content": f"What is a monad? ({i})"}]}),
        ("/v1/chat/completions", {"model": "auto", "max_tokens": 8, "tools": TOOLS,
                                  "stream": i % 2 == 0, "messages": [
            {"role": "user", "content": f"List the files in src/{i}."}]}),
    ]


def broken_request(i: int) -> tuple[str, dict[str, Any]]:
    return ("/v1/chat/completions", {"model": BROKEN, "messages": [
        {"role": "user", "content": f"Anyone there? ({i})"}]})


def send(url: str, request: tuple[str, dict[str, Any]]) -> int:
    # A new connection each time, so that the kernel spreads requests over the workers.
    path, body = request
    headers = {"connection": "close", **KIT_AUTH}
    with httpx.Client(base_url=url, timeout=30, headers=headers) as c:
        r = c.post(path, json=body)
        return r.status_code


def send_all(url: str, requests: list[tuple[str, dict[str, Any]]]) -> list[int]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda r: send(url, r), requests))


def scrape(proc: Proc) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}} from one GET /metrics (on a new connection)."""
    with httpx.Client(headers={"connection": "close"}) as c:
        text = c.get(proc.url + "/metrics", timeout=5).text
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[s.name][tuple(sorted(s.labels.items()))] = s.value
    return out


def total(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str,
          **match: str) -> float:
    return sum(v for labels, v in samples.get(name, {}).items()
               if match.items() <= dict(labels).items())
