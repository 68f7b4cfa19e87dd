"""Every refusal says why in the access log: one line per refused request, with its status and
reason, and never the key that was sent (issue 19)."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from procs import Proc, fleet_models, start_laneway, wait_until

KEY = "sk-refusal-log-0123456789abcdef"
WRONG = "sk-wrong-key-fedcba9876543210"
TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def small(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """One 32k model serving completion and qa: nothing serves agentic."""
    tmp: Path = tmp_path_factory.mktemp("refusals")
    config = {"server": {"api_keys": [KEY]}, "models": fleet_models(fleet.url)[:1]}
    with start_laneway(tmp, config) as proc:
        yield proc


def lines(proc: Proc) -> dict[str, dict[str, Any]]:
    out = {}
    for raw in proc.log().splitlines():
        if raw.startswith("{") and '"request_id"' in raw:
            line = json.loads(raw)
            out[line["request_id"]] = line
    return out


def test_each_refusal_gets_its_line_with_the_reason(small: Proc):
    good = {"authorization": f"Bearer {KEY}"}
    chat = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    sent = {  # request id: (headers, path, body, status, words the reason must hold)
        "refusal-wrong-key": ({"authorization": f"Bearer {WRONG}"}, "/v1/chat/completions",
                              chat, 401, "invalid_api_key"),
        "refusal-unknown-route": (good, "/v1/nothing/here", chat, 404, "not_found"),
        "refusal-unknown-model": (good, "/v1/chat/completions", chat | {"model": "gpt-9"}, 404,
                                  "model_not_found"),
        "refusal-no-lane-model": (good, "/v1/chat/completions", chat | {"tools": TOOLS}, 503,
                                  "does not serve agentic"),
        "refusal-bad-json": (good, "/v1/chat/completions", None, 400, "invalid"),
        "refusal-models-no-key": ({}, "/v1/models", None, 401, "invalid_api_key"),
    }
    for rid, (headers, path, body, status, _) in sent.items():
        if path == "/v1/models":
            r = httpx.get(small.url + path, headers=headers | {"x-request-id": rid})
        else:
            r = httpx.post(small.url + path, headers=headers | {"x-request-id": rid}, timeout=30,
                           content=b"{not json" if body is None else json.dumps(body))
        assert r.status_code == status, r.text
    wait_until(lambda: set(sent) <= set(lines(small)), what="a log line per refusal")
    logged = lines(small)
    for rid, (_, _, _, status, words) in sent.items():
        line = logged[rid]
        assert line["status"] == status and words in (line["error"] or ""), line
    assert KEY not in small.log() and WRONG not in small.log()
