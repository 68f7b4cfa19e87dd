"""Fixtures for the hostile-input tests: real processes only (fleets, laneway, redis-server).

`guarded` is one laneway with client keys (one literal, one `env:`), an upstream key the
fleet checks (`require_api_key`), a 1 MiB body limit and short completion-lane timeouts.
Keys are random per run, so a leak cannot pass by matching a fixed string elsewhere.
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from procs import Proc, RedisServer, fleet_models, start_fleet, start_laneway

KEY_A = "lw-team-a-" + secrets.token_hex(12)  # given as env:LW_SEC_KEY_A
KEY_B = "sk-team-b-" + secrets.token_hex(12)  # written literally in the config
UPSTREAM_KEY = "sk-upstream-" + secrets.token_hex(12)  # env:LW_SEC_UPSTREAM_KEY
ENV = {"LW_SEC_KEY_A": KEY_A, "LW_SEC_UPSTREAM_KEY": UPSTREAM_KEY}
BODY_LIMIT = 1024 * 1024

# Policy overrides: completion-lane timeouts short enough to test, qa left at its defaults;
# breakers that never open, since these tests force upstream failures on purpose and later
# tests need every model.
POLICY = """
completion:
  timeouts: {connect_s: 1, ttft_s: 1.5, idle_s: 0.5, total_s: 4}
breaker: {failures: 1000000}
"""

def auth(key: str = KEY_A) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def laneway_config(tmp: Path, fleet: Proc, **server: Any) -> dict[str, Any]:
    policy = tmp / "policy-fast.yaml"
    policy.write_text(POLICY)
    models = fleet_models(fleet.url)
    for m in models:
        m["api_key"] = "env:LW_SEC_UPSTREAM_KEY"
    models[2]["extra_fields"] = ["lora_request"]  # a server-specific field, for this one only
    return {
        "server": {"api_keys": ["env:LW_SEC_KEY_A", KEY_B], "max_body_bytes": BODY_LIMIT,
                   "shutdown_grace_s": 10, **server},
        "policy": str(policy),
        "models": models,
    }


class Leaky(http.server.BaseHTTPRequestHandler):
    """An upstream that quotes the key it was sent in its error messages, as some do."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        path = self.path or ""
        status = 401 if path.endswith("/embeddings") else 400 if "/chat/" in path else 500
        sent = str(self.headers.get("authorization"))
        if path.endswith("/responses"):  # OpenAI's way: a fragment of the key, masked
            key = sent.removeprefix("Bearer ")
            sent, status = f"{key[:8]}{'*' * 20}{key[-4:]}", 400
        body = json.dumps({"error": {
            "message": f"Incorrect API key provided: {sent}",
            "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}})
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def leaky() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Leaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def fleets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    """`sec_fleet` (answers only with the configured upstream key) and `decoy` (a second
    upstream that smuggled `api_base` fields point at: it must see nothing), started at once."""
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(start_fleet, tmp_path_factory.mktemp("sec-fleet"),
                        {"require_api_key": UPSTREAM_KEY})
        b = pool.submit(start_fleet, tmp_path_factory.mktemp("decoy"))
        procs = (a.result(), b.result())
    yield procs
    for p in procs:
        p.stop()


@pytest.fixture(scope="session")
def sec_fleet(fleets: tuple[Proc, Proc]) -> Proc:
    return fleets[0]


@pytest.fixture(scope="session")
def decoy(fleets: tuple[Proc, Proc]) -> Proc:
    return fleets[1]


@pytest.fixture(scope="session")
def guarded(sec_fleet: Proc, leaky: str, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("guarded")
    config = laneway_config(tmp, sec_fleet)
    # Pinned by name only (it serves no lane): an upstream whose errors quote its key.
    config["models"].append({"name": "leaky", "api_base": leaky + "/v1", "lanes": [],
                             "api_key": "env:LW_SEC_UPSTREAM_KEY"})
    proc = start_laneway(tmp, config, env=ENV)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    """One client for the whole run: building one per request costs ~70 ms (TLS setup)."""
    with httpx.Client(timeout=30) as c:
        yield c


@pytest.fixture
def upstream(sec_fleet: Proc) -> Iterator[Proc]:
    """`sec_fleet` with an empty request log and no runtime faults, before and after."""
    reset(sec_fleet)
    yield sec_fleet
    reset(sec_fleet)


# For the fleets' control API; building a client per call costs ~70 ms (TLS setup).
_CONTROL = httpx.Client(timeout=35)


@pytest.fixture(scope="session", autouse=True)
def _close_control_client() -> Iterator[None]:
    yield
    _CONTROL.close()


def reset(fleet: Proc) -> None:
    _CONTROL.post(fleet.url + "/fleet/reset").raise_for_status()


def fleet_log(fleet: Proc, **query: Any) -> list[dict[str, Any]]:
    """The fleet's request log; `wait`/`min` hold the answer until enough entries match."""
    r = _CONTROL.get(fleet.url + "/fleet/requests", params=query)
    entries: list[dict[str, Any]] = r.json()["requests"]
    return entries


def set_fault(fleet: Proc, fault: dict[str, Any], model: str = "*") -> None:
    _CONTROL.post(fleet.url + "/fleet/faults", json={"model": model, **fault}).raise_for_status()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


def secrets_in(text: str) -> list[str]:
    """Which of this run's keys occur in `text` (whole, or a telling 8-character piece)."""
    found = []
    for key in (KEY_A, KEY_B, UPSTREAM_KEY):
        random_part = key[-24:]
        if key in text or any(random_part[i:i + 8] in text for i in range(0, 17, 8)):
            found.append(key[:8] + "...")
    return found

