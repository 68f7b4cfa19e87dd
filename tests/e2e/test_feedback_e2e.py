"""The flywheel end to end: ids on every answer (cache hits included), Tabby's events
counted exactly across two replicas on a real Redis, unknown and other tenants' ids
ignored, implicit acceptance, sticky arms, and an experiment that decides and promotes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from procs import Proc, RedisServer, fleet_models, start_laneway, wait_until

KEY_A, KEY_B = "sk-flywheel-team-a", "sk-flywheel-team-b"
EXPERIMENT = {
    "name": "completion-model", "lane": "completion", "min_shown": 20,
    "arms": [{"name": "small", "model": "qwen3-coder-1.5b"},
             {"name": "mid", "model": "qwen3-14b"}],
}


def config(fleet: Proc, redis_url: str, **extra: Any) -> dict[str, Any]:
    return {"server": {"api_keys": [KEY_A, KEY_B]}, "redis": {"url": redis_url},
            "models": fleet_models(fleet.url), **extra}


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("flywheel-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def replicas(own_fleet: Proc, redis: RedisServer,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proc, Proc]]:
    tmp = tmp_path_factory.mktemp("flywheel")
    cfg = config(own_fleet, redis.url, experiments=[EXPERIMENT])
    a, b = start_laneway(tmp, cfg), start_laneway(tmp, cfg)
    yield a, b
    a.stop()
    b.stop()


def fim(marker: str, path: str = "src/geo.py", typed: str = "") -> str:
    return (f"<|file_sep|>{path}\n<|fim_prefix|>def area_{marker}(r):\n    return {typed}"
            "<|fim_suffix|>\n<|fim_middle|>")


def sdk(proc: Proc, key: str = KEY_A) -> openai.OpenAI:
    return openai.OpenAI(base_url=proc.url + "/v1", api_key=key, max_retries=0)


def event(proc: Proc, kind: str, cid: str, key: str = KEY_A, **extra: Any) -> httpx.Response:
    return httpx.post(proc.url + "/v1/events", headers={"authorization": f"Bearer {key}"},
                      json={"type": kind, "completion_id": cid, "choice_index": 0, **extra})


def report(proc: Proc) -> dict[str, Any]:
    r = httpx.get(proc.url + "/laneway/experiments",
                  headers={"authorization": f"Bearer {KEY_B}"}, timeout=5)
    assert r.status_code == 200
    (exp,) = r.json()["experiments"]
    return exp  # type: ignore[no-any-return]


def arms(proc: Proc) -> dict[str, tuple[int, int]]:
    return {a["name"]: (a["shown"], a["accepted"]) for a in report(proc)["arms"]}


def test_every_answer_has_its_own_id_cache_hits_included(replicas: tuple[Proc, Proc]):
    a, _ = replicas
    client = sdk(a)
    ids = []
    caches = []
    for _ in range(4):  # the same request: a miss, then cache hits
        raw = client.completions.with_raw_response.create(
            model="auto", prompt=fim("ids"), max_tokens=12, temperature=0, user="ids-user")
        answer = raw.parse()
        assert answer.id == raw.headers["x-laneway-completion-id"]
        ids.append(answer.id)
        caches.append(raw.headers["x-laneway-cache"])
    assert caches[0] == "miss" and set(caches[1:]) <= {"l1", "l2"}
    with client.completions.with_streaming_response.create(
            model="auto", prompt=fim("ids"), max_tokens=12, temperature=0, stream=True) as s:
        header = s.headers["x-laneway-completion-id"]
        chunk_ids = {chunk.id for chunk in s.parse()}
    assert chunk_ids == {header}
    chat = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What is a monad?"}], max_tokens=8)
    ids += [header, chat.parse().id]
    assert chat.parse().id == chat.headers["x-laneway-completion-id"]
    assert len(set(ids)) == len(ids) == 6


def test_events_count_once_across_two_replicas_and_ignore_strangers(
    replicas: tuple[Proc, Proc],
):
    a, b = replicas
    before = arms(a)
    served = []
    for i in range(8):  # each answer delivered counts as shown, on whichever replica
        proc = (a, b)[i % 2]
        raw = sdk(proc).completions.with_raw_response.create(
            model="auto", prompt=fim(f"ev{i}"), max_tokens=12, user=f"ev-user-{i}")
        served.append((raw.parse().id, raw.headers["x-laneway-experiment"].split("=")[1]))
    for cid, _ in served[:5]:  # select: twice, on both replicas, plus a view (already shown)
        for proc in (b, a):
            assert event(proc, "select", cid, elapsed=420).json() == {}
        assert event(a, "view", cid).status_code == 200
    # unknown ids and another tenant's answers: the same 200, and nothing counted
    assert event(a, "select", "cmpl-nobody").json() == {}
    assert event(b, "select", served[6][0], key=KEY_B).json() == {}
    assert event(a, "dismiss", served[7][0]).status_code == 200
    want = dict(before)
    for cid, arm in served:
        shown, accepted = want.get(arm, (0, 0))
        want[arm] = (shown + 1, accepted + (cid in {c for c, _ in served[:5]}))
    wait_until(lambda: arms(a) == want and arms(b) == want, timeout=10,
               what="both replicas to report the same exact counts")
    assert event(a, "select", served[6][0]).status_code == 200  # its own tenant: counts
    want[served[6][1]] = (want[served[6][1]][0], want[served[6][1]][1] + 1)
    wait_until(lambda: arms(b) == want, timeout=10, what="the late select")


def test_bad_events_get_clear_openai_errors(replicas: tuple[Proc, Proc]):
    a, _ = replicas
    auth = {"authorization": f"Bearer {KEY_A}"}
    cases = [
        (b"{not json", "invalid_request_error", None),
        (b'{"type": "select"}', "invalid_request_error", "completion_id"),
        (b'{"type": "like", "completion_id": "x"}', "invalid_request_error", "type"),
        (b'["select"]', "invalid_request_error", None),
    ]
    for content, kind, param in cases:
        r = httpx.post(a.url + "/v1/events", content=content, headers=auth)
        assert r.status_code == 400, content
        assert r.json()["error"]["type"] == kind and r.json()["error"]["param"] == param
    r = httpx.post(a.url + "/v1/events", json={"type": "view", "completion_id": "x"},
                   headers={"authorization": "Bearer sk-wrong"})
    assert r.status_code == 401 and "sk-wrong" not in r.text
    assert httpx.get(a.url + "/laneway/experiments").status_code == 401


def test_a_completion_taken_and_typed_on_counts_as_accepted_implicitly(
    replicas: tuple[Proc, Proc],
):
    a, _ = replicas
    client = sdk(a)

    def accepted_implicitly() -> float:
        text = httpx.get(a.url + "/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("laneway_completions_accepted_total")
                   and 'source="implicit"' in line)

    start = accepted_implicitly()
    shown = client.completions.create(model="auto", prompt=fim("imp", "lib/imp.py"),
                                      max_tokens=12, user="imp-user").choices[0].text
    assert shown.strip()
    # another file, and a prefix that does not carry the text: nothing
    client.completions.create(model="auto", prompt=fim("imp", "lib/other.py", shown),
                              max_tokens=12, user="imp-user")
    client.completions.create(model="auto", prompt=fim("imp", "lib/imp.py", "x = 1\n"),
                              max_tokens=12, user="imp-user")
    # the user took it and typed on: counted once, however often the prefix repeats it
    for more in ("\n\n", "\n\ndef perimeter(r):\n"):
        client.completions.create(model="auto", prompt=fim("imp", "lib/imp.py", shown + more),
                                  max_tokens=12, user="imp-user")
    wait_until(lambda: accepted_implicitly() == start + 1, timeout=10,
               what="the implicit acceptance")
    assert accepted_implicitly() == start + 1


def test_arms_are_sticky_and_the_winner_takes_all_traffic(replicas: tuple[Proc, Proc]):
    a, b = replicas
    client = sdk(a)

    def arm_of(user: str, marker: str, proc: Proc = a) -> tuple[str, str]:
        raw = sdk(proc).completions.with_raw_response.create(
            model="auto", prompt=fim(marker), max_tokens=8, user=user)
        name, arm = raw.headers["x-laneway-experiment"].split("=")
        assert name == "completion-model"
        return arm, raw.parse().id

    first = {u: arm_of(f"sticky-{u}", f"s{u}")[0] for u in range(12)}
    assert set(first.values()) == {"small", "mid"}
    for u, arm in first.items():  # on either replica, later requests: the same arm
        assert arm_of(f"sticky-{u}", f"s{u}-again", (a, b)[u % 2])[0] == arm
    # users take every answer of "mid" and none of "small": decided after min_shown each
    i = 0
    while report(a)["status"] == "running" and i < 400:
        arm, cid = arm_of(f"promo-{i}", f"p{i}")
        if arm == "mid":
            event(b, "select", cid)
        i += 1
        if i % 20 == 0:
            wait_until(lambda n=i: sum(s for s, _ in arms(a).values()) >= n,  # type: ignore[misc]
                       timeout=10, what="the shown counts")
    wait_until(lambda: report(b)["winner"] == "mid", timeout=10, what="the decision")
    decided = report(a)
    assert decided["status"] == "decided" and decided["winner"] == "mid"
    mid, small = (next(x for x in decided["arms"] if x["name"] == n) for n in ("mid", "small"))
    assert mid["acceptance_rate"] > small["acceptance_rate"] + 0.3
    assert mid["ci95"][0] < mid["acceptance_rate"] < mid["ci95"][1]
    assert mid["units"] >= 20 and mid["cost_usd_per_accepted"] > 0
    # promoted: every unit, old or new, on either replica, is now served by "mid"
    wait_until(lambda: arm_of("sticky-0", "after", b)[0] == "mid", timeout=10,
               what="replica b to adopt the winner")
    served = [arm_of(f"late-{u}", f"l{u}", (a, b)[u % 2]) for u in range(10)]
    assert {arm for arm, _ in served} == {"mid"}
    assert client.completions.with_raw_response.create(
        model="auto", prompt=fim("pin"), max_tokens=8, user="late-0",
    ).headers["x-laneway-model"] == "qwen3-14b"


def test_explain_shows_each_candidates_acceptance(replicas: tuple[Proc, Proc]):
    a, b = replicas
    client = sdk(b)
    for i in range(3):  # shown and selected: the model's acceptance is learned everywhere
        cid = client.completions.create(model="auto", prompt=fim(f"x{i}"), max_tokens=8,
                                        user="explainer").id
        event(b, "select", cid)

    def candidates() -> list[dict[str, Any]]:
        r = httpx.post(a.url + "/laneway/explain", headers={"authorization": f"Bearer {KEY_A}"},
                       json={"path": "/v1/completions", "body": {
                           "model": "auto", "prompt": fim("x"), "user": "explainer"}})
        assert r.status_code == 200
        return r.json()["candidates"]  # type: ignore[no-any-return]

    wait_until(lambda: candidates()[0]["acceptance"] is not None, timeout=10,
               what="replica a to learn the acceptance")
    acceptance = candidates()[0]["acceptance"]
    assert 0 < acceptance["rate"] <= 1 and acceptance["shown"] >= 3
