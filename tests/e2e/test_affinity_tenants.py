"""Session affinity is per tenant: another key's identical conversation neither sees nor moves
the pin (issue 19)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from procs import Proc, fleet_models, start_laneway

KEYS = {"a": "sk-aff-tenant-a-0123456789", "b": "sk-aff-tenant-b-0123456789"}
TOOLS = [{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}]
BODY = {"model": "auto", "tools": TOOLS, "messages": [
    {"role": "system", "content": "You are an agent."},
    {"role": "user", "content": "Refactor the parser module."}]}


@pytest.fixture(scope="module")
def keyed(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp: Path = tmp_path_factory.mktemp("affinity")
    config = {"server": {"api_keys": list(KEYS.values())}, "models": fleet_models(fleet.url)}
    with start_laneway(tmp, config) as proc:
        yield proc


def explain(url: str, key: str) -> list[str]:
    r = httpx.post(url + "/laneway/explain", json={"body": BODY},
                   headers={"authorization": f"Bearer {key}"})
    r.raise_for_status()
    return r.json()["choice_reasons"]  # type: ignore[no-any-return]


def test_a_pin_is_seen_only_by_its_own_tenant(keyed: Proc):
    pinned = httpx.post(keyed.url + "/v1/chat/completions", json=BODY | {"model": "qwen3-14b"},
                        headers={"authorization": f"Bearer {KEYS['a']}"}, timeout=30)
    assert pinned.status_code == 200, pinned.text
    # Tenant a's conversation now lives on qwen3-14b, though auto would pick the large tier.
    assert any("qwen3-14b: session affinity" in r for r in explain(keyed.url, KEYS["a"]))
    assert not any("affinity" in r for r in explain(keyed.url, KEYS["b"]))


def test_another_tenant_cannot_move_the_pin(keyed: Proc):
    body = BODY | {"messages": [*BODY["messages"][:1],
                                {"role": "user", "content": "Rename the config loader."}]}

    def send(key: str, model: str) -> None:
        r = httpx.post(keyed.url + "/v1/chat/completions", json=body | {"model": model},
                       headers={"authorization": f"Bearer {key}"}, timeout=30)
        assert r.status_code == 200, r.text

    def pin_of(key: str) -> list[str]:
        r = httpx.post(keyed.url + "/laneway/explain", json={"body": body},
                       headers={"authorization": f"Bearer {key}"})
        return [x for x in r.json()["choice_reasons"] if "affinity" in x]

    send(KEYS["a"], "qwen3-14b")
    send(KEYS["b"], "qwen3-235b-a22b")  # the same conversation, another tenant, another model
    assert pin_of(KEYS["a"]) == ["qwen3-14b: session affinity (conversation stays on it)"]
    assert pin_of(KEYS["b"]) == ["qwen3-235b-a22b: session affinity (conversation stays on it)"]
