"""Teams end to end: two laneway replicas on one real Redis, the simulated fleet, the SDK."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from procs import Proc, RedisServer, fleet_models, start_laneway, wait_until

KEY_TIGHT = "sk-tight-" + secrets.token_hex(12)
KEY_TIGHT_2 = "sk-tight2-" + secrets.token_hex(12)  # the same team's second key
KEY_WIDE = "sk-wide-" + secrets.token_hex(12)
KEY_BARE = "sk-bare-" + secrets.token_hex(12)
KEY_NEW = "sk-new-" + secrets.token_hex(12)  # added while serving
ADMIN = "sk-admin-" + secrets.token_hex(12)
SMALL, MID, LARGE = "qwen3-coder-1.5b", "qwen3-14b", "qwen3-235b-a22b"
KEY_NARROW = "sk-narrow-" + secrets.token_hex(12)
TOOL = {"type": "function", "function": {"name": "ls", "description": "List files",
                                         "parameters": {"type": "object", "properties": {}}}}
BUDGET = 0.00005  # a few requests' worth at the small model's price
CLIENTS = 4  # requests in flight at once, at most


def config(fleet: Proc, redis: RedisServer, keys: list[Any]) -> dict[str, Any]:
    return {
        "server": {"api_keys": keys, "admin_keys": [ADMIN], "tenant_secret": "deploy-secret"},
        "redis": {"url": redis.url, "timeout_ms": 1000},
        "models": fleet_models(fleet.url),
    }


KEYS: list[Any] = [
    {"key": KEY_TIGHT, "team": "tight", "budget": {"usd": BUDGET, "period": "day"},
     "models": [SMALL, MID]},
    {"key": KEY_TIGHT_2, "team": "tight"},
    {"key": KEY_WIDE, "team": "wide"},
    {"key": KEY_NARROW, "team": "narrow", "models": [MID]},
    KEY_BARE,
]


@pytest.fixture(scope="module")
def stack(own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Proc, Proc, RedisServer]]:
    tmp = tmp_path_factory.mktemp("teams")
    with RedisServer(tmp) as redis, \
            start_laneway(tmp, config(own_fleet, redis, KEYS)) as a, \
            start_laneway(tmp, config(own_fleet, redis, KEYS)) as b:
        yield a, b, redis


OPEN: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def sdk(replica: Proc, key: str) -> openai.OpenAI:
    client = openai.OpenAI(base_url=replica.url + "/v1", api_key=key, max_retries=0)
    OPEN.append(client)
    return client


def ask(client: openai.OpenAI, model: str = SMALL) -> Any:
    return client.chat.completions.create(
        model=model, max_tokens=32, temperature=0.7,  # no cache: every answer costs
        messages=[{"role": "user", "content": f"Name a sorting algorithm #{secrets.token_hex(4)}"}],
    )


def price(model: dict[str, Any], usage: Any) -> float:
    p = model["price_per_mtok"]
    return (usage.prompt_tokens * p["input"] + usage.completion_tokens * p["output"]) / 1e6


def spend(replica: Proc, key: str) -> list[dict[str, Any]]:
    r = httpx.get(replica.url + "/laneway/spend", headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["teams"]
    return rows


def test_a_spent_budget_is_refused_on_every_replica_within_what_was_in_flight(
    stack, own_fleet: Proc
):
    a, b, _ = stack
    small = next(m for m in fleet_models(own_fleet.url) if m["name"] == SMALL)
    httpx.post(own_fleet.url + "/fleet/reset").raise_for_status()
    costs: list[float] = []
    refusals: list[openai.RateLimitError] = []
    lock = threading.Lock()

    def client_loop(i: int) -> None:
        c = sdk((a, b)[i % 2], (KEY_TIGHT, KEY_TIGHT_2)[i // 2 % 2])
        for _ in range(200):
            try:
                answer = ask(c)
            except openai.RateLimitError as exc:
                with lock:
                    refusals.append(exc)
                return
            with lock:
                costs.append(price(small, answer.usage))

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(refusals) == CLIENTS and costs  # every client was stopped, after some answers
    # Refused while others held their worst case: with nothing in flight any more, what is
    # left of the budget (if the answers cost less than their holds) is still usable.
    client_loop(0)
    err = refusals[0]
    assert err.status_code == 429 and err.code == err.type == "insufficient_quota"
    assert 0 < int(err.response.headers["retry-after"]) <= 86400
    # What the fleet was asked for: every answer, no call for a refused request, and a
    # cost within the budget plus what the other clients had in flight.
    asked = httpx.get(own_fleet.url + "/fleet/requests").json()["count"]
    assert asked == len(costs)
    assert BUDGET <= sum(costs) <= BUDGET + (CLIENTS - 1) * max(costs)
    # The report, from either replica, is the fleet's usage times the configured prices.
    wait_until(lambda: spend(b, KEY_TIGHT)[0]["requests"] == len(costs), 5, "the last settle")
    [row] = spend(a, KEY_TIGHT_2)
    assert row["team"] == "tight" and row["period"] == "day" and row["budget_usd"] == BUDGET
    assert row["spent_usd"] == pytest.approx(sum(costs), rel=1e-6)
    assert row["remaining_usd"] == 0 and row["saved_usd"] > 0
    # Another team is unaffected, on both replicas; both know the budget is spent.
    assert ask(sdk(a, KEY_WIDE)).choices and ask(sdk(b, KEY_WIDE)).choices
    for replica in (a, b):  # each replica's gauge follows what its last request learnt
        with pytest.raises(openai.RateLimitError):
            ask(sdk(replica, KEY_TIGHT))
    admin = {r["team"]: r for r in spend(a, ADMIN)}
    assert set(admin) == {"tight", "wide", "narrow"} and admin["wide"]["budget_usd"] is None
    metrics = httpx.get(a.url + "/metrics").text
    assert 'laneway_spend_usd_total{team="tight"}' in metrics
    assert 'laneway_budget_remaining_usd{team="tight"} 0.0' in metrics
    for key in (KEY_TIGHT, KEY_WIDE, KEY_BARE, ADMIN):
        assert key not in metrics and key not in a.log()
    wait_until(lambda: '"tenant":"tight"' in a.log(), 5, "the access log to name the team")


def test_a_team_sees_and_uses_only_its_models(stack):
    a, b, _ = stack
    narrow = sdk(b, KEY_NARROW)
    with pytest.raises(openai.PermissionDeniedError) as denied:
        ask(narrow, SMALL)
    assert denied.value.type == "permission_error" and KEY_NARROW not in str(denied.value)
    assert {m.id for m in narrow.models.list()} == {"auto", MID}
    assert {m.id for m in sdk(a, KEY_WIDE).models.list()} >= {"auto", SMALL, MID, LARGE}
    # auto routes within the list: an agent turn would take the largest tier otherwise.
    raw = narrow.chat.completions.with_raw_response.create(
        model="auto", max_tokens=16, tools=[TOOL],
        messages=[{"role": "user", "content": "List the files in this repository."}],
    )
    assert raw.headers["x-laneway-lane"] == "agentic" and raw.headers["x-laneway-model"] == MID
    wide = sdk(a, KEY_WIDE).chat.completions.with_raw_response.create(
        model="auto", max_tokens=16, tools=[TOOL],
        messages=[{"role": "user", "content": "List the files in this repository."}],
    )
    assert wide.headers["x-laneway-model"] == LARGE
    question = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
    explained = httpx.post(
        a.url + "/laneway/explain", headers={"authorization": f"Bearer {KEY_NARROW}"},
        json={"path": "/v1/chat/completions", "body": question},
    ).json()
    assert explained["tenant"] == "narrow" and explained["model"] == MID


def test_only_the_callers_team_is_reported_and_a_bare_key_has_none(stack):
    a, _, _ = stack
    assert [r["team"] for r in spend(a, KEY_WIDE)] == ["wide"]
    assert spend(a, KEY_BARE) == []
    r = httpx.get(a.url + "/laneway/spend", headers={"authorization": "Bearer sk-wrong"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"


def test_a_revoked_key_is_refused_by_every_replica_within_ten_seconds(stack, own_fleet: Proc):
    a, b, redis = stack
    assert ask(sdk(a, KEY_WIDE)).choices and ask(sdk(b, KEY_WIDE)).choices
    kept = [k for k in KEYS if not (isinstance(k, dict) and k["key"] == KEY_WIDE)]
    kept.append({"key": KEY_NEW, "team": "wide"})  # the same edit adds a key
    for replica in (a, b):  # each replica reads its own copy, as pods mount theirs
        path = Path(replica.proc.args[replica.proc.args.index("--config") + 1])
        path.write_text(yaml.safe_dump(config(own_fleet, redis, kept)))

    def refused_everywhere() -> bool:
        return all(
            httpx.get(r.url + "/v1/models", headers={"authorization": f"Bearer {KEY_WIDE}"}
                      ).status_code == 401
            for r in (a, b)
        )

    wait_until(refused_everywhere, 10, "both replicas to refuse the revoked key")
    with pytest.raises(openai.AuthenticationError):
        ask(sdk(b, KEY_WIDE))
    assert ask(sdk(a, KEY_BARE)).choices  # the other keys still work
    assert ask(sdk(a, KEY_NEW)).choices and ask(sdk(b, KEY_NEW)).choices
