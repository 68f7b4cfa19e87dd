"""Issue 5 end to end: laneway processes sharing real redis-server processes the tests start."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest
from procs import (
    Proc,
    RedisServer,
    fleet_models,
    low_port,
    start_cluster,
    start_laneway,
    wait_until,
)

KEY_A, KEY_B = "sk-cache-team-a", "sk-cache-team-b"


def config(fleet: Proc, redis_url: str | None, **redis: Any) -> dict[str, Any]:
    section = {"url": redis_url, **redis} if redis_url else {}
    return {"server": {"api_keys": [KEY_A, KEY_B]}, "redis": section,
            "models": fleet_models(fleet.url)}


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("cache-redis")) as server:
        yield server


@pytest.fixture(scope="module")
def replicas(
    own_fleet: Proc, shared_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Proc, Proc]]:
    tmp = tmp_path_factory.mktemp("cache-replicas")
    a = start_laneway(tmp, config(own_fleet, shared_redis.url))
    b = start_laneway(tmp, config(own_fleet, shared_redis.url))
    yield a, b
    a.stop()
    b.stop()


def chat_body(marker: str, **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": f"Explain git rebase, briefly. [{marker}]"}],
            **extra}


def post(proc: Proc, path: str, body: dict[str, Any], key: str = KEY_A,
         timeout: float = 30) -> httpx.Response:
    return httpx.post(proc.url + path, json=body, timeout=timeout,
                      headers={"authorization": f"Bearer {key}"})


def upstream_calls(fleet: Proc, marker: str) -> int:
    entries = httpx.get(fleet.url + "/fleet/requests").json()["requests"]
    return sum(1 for e in entries if marker in orjson.dumps(e.get("body")).decode())


def sse_summary(text: str) -> tuple[str, Any, Any, str | None]:
    """(content, finish_reason, usage, last data line) of a chat stream."""
    content, finish, usage, last = "", None, None, None
    for line in text.splitlines():
        if not line.startswith("data: "):
            continue
        last = line[6:]
        if last == "[DONE]":
            continue
        chunk = orjson.loads(last)
        for choice in chunk.get("choices") or ():
            content += choice["delta"].get("content") or ""
            finish = choice.get("finish_reason") or finish
        usage = chunk.get("usage") or usage
    return content, finish, usage, last


def test_what_one_replica_cached_the_other_serves(
    replicas: tuple[Proc, Proc], own_fleet: Proc, shared_redis: RedisServer
) -> None:
    a, b = replicas
    marker = uuid.uuid4().hex
    before = shared_redis.answers()
    first = post(a, "/v1/chat/completions", chat_body(marker))
    assert first.headers["x-laneway-cache"] == "miss" and upstream_calls(own_fleet, marker) == 1
    wait_until(lambda: shared_redis.answers() > before, 5, "the answer to reach Redis")
    again = post(b, "/v1/chat/completions", chat_body(marker))
    assert again.headers["x-laneway-cache"] == "l2"
    assert again.headers["x-laneway-model"] == first.headers["x-laneway-model"]
    assert upstream_calls(own_fleet, marker) == 1
    original, replay = sse_summary(first.text), sse_summary(again.text)
    assert replay == original and original[0] and original[2] is not None
    assert original[3] == "[DONE]"
    other = post(b, "/v1/chat/completions", chat_body(marker), key=KEY_B)
    assert other.headers["x-laneway-cache"] == "miss" and upstream_calls(own_fleet, marker) == 2
    plain = post(b, "/v1/chat/completions", chat_body(marker, stream=False))
    assert plain.headers["x-laneway-cache"] == "l1"
    assert plain.json()["choices"][0]["message"]["content"] == original[0]
    hot = post(a, "/v1/chat/completions", chat_body(marker, temperature=0.7))
    assert hot.headers["x-laneway-cache"] == "bypass"


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
def test_identical_requests_in_flight_cost_one_upstream_call(
    replicas: tuple[Proc, Proc], own_fleet: Proc, fleet_ctl: httpx.Client, stream: bool
) -> None:
    a, _ = replicas
    fleet_ctl.post("/fleet/faults", json={"model": "*", "ttft_ms": 1500}).raise_for_status()
    marker = uuid.uuid4().hex
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(
            lambda _: post(a, "/v1/chat/completions", chat_body(marker, stream=stream)),
            range(20)))
    assert upstream_calls(own_fleet, marker) == 1
    tiers = sorted(r.headers["x-laneway-cache"] for r in answers)
    assert tiers.count("miss") == 1 and set(tiers) <= {"miss", "coalesced", "l1"}
    assert "coalesced" in tiers  # some arrived while the slow model worked (the rest: l1)
    if stream:
        assert len({orjson.dumps(sse_summary(r.text)) for r in answers}) == 1
    else:
        # The same answer, each under its own laneway id.
        bodies = [r.json() for r in answers]
        assert len({b.pop("id") for b in bodies}) == 20
        assert len({orjson.dumps(b) for b in bodies}) == 1 and bodies[0]["choices"]


def coalesced(proc: Proc) -> float:
    """laneway_cache_events_total{tier="flight",result="coalesced"}: requests that joined."""
    for line in httpx.get(proc.url + "/metrics").text.splitlines():
        if line.startswith("laneway_cache_events_total{") and 'tier="flight"' in line \
                and 'result="coalesced"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_plain_leader_that_leaves_does_not_cut_its_follower(
    replicas: tuple[Proc, Proc], own_fleet: Proc, fleet_ctl: httpx.Client
) -> None:
    """A non-streamed leader makes its call itself: when its client leaves, the call goes,
    and the follower (which had received nothing) gets its answer from a fresh call."""
    a, _ = replicas
    fleet_ctl.post("/fleet/faults", json={"model": "*", "ttft_ms": 1500}).raise_for_status()
    marker = uuid.uuid4().hex
    data = orjson.dumps(chat_body(marker, stream=False))
    host, port = a.url.rsplit("/", 1)[1].split(":")
    leader = socket.create_connection((host, int(port)), timeout=10)
    with leader, ThreadPoolExecutor(1) as pool:
        leader.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"
                       b"content-type: application/json\r\n"
                       + f"authorization: Bearer {KEY_A}\r\ncontent-length: {len(data)}\r\n\r\n"
                       .encode() + data)
        wait_until(lambda: upstream_calls(own_fleet, marker) == 1, 5, "the leader's call")
        joined = coalesced(a)
        follower = pool.submit(post, a, "/v1/chat/completions", chat_body(marker, stream=False))
        wait_until(lambda: coalesced(a) > joined, 5, "the follower to join the flight")
        leader.close()  # the leader's client goes away
        answer = follower.result()
    assert answer.status_code == 200
    assert answer.json()["choices"][0]["finish_reason"] and answer.json()["usage"]
    cancelled = httpx.get(own_fleet.url + "/fleet/requests",
                          params={"state": "cancelled", "wait": 10}).json()["requests"]
    assert any(marker in orjson.dumps(e.get("body")).decode() for e in cancelled)


def test_a_streaming_leader_that_leaves_does_not_cut_its_follower(
    replicas: tuple[Proc, Proc], own_fleet: Proc, fleet_ctl: httpx.Client
) -> None:
    """The follower of a stream gets all of it, whether the leader's call was handed over to
    the flight's task before the leader left, or went with it (then the follower, which had
    received nothing, leads a fresh call)."""
    a, _ = replicas
    fleet_ctl.post("/fleet/faults", json={"model": "*", "chunk_delay_ms": 100}).raise_for_status()
    marker = uuid.uuid4().hex
    with ThreadPoolExecutor(1) as pool:
        with httpx.stream("POST", a.url + "/v1/chat/completions", json=chat_body(marker),
                          headers={"authorization": f"Bearer {KEY_A}"}, timeout=30) as leader:
            assert leader.headers["x-laneway-cache"] == "miss"
            chunks = leader.iter_raw()  # kept: dropping the iterator closes the connection
            next(chunks)  # the leader's first chunk
            joined = coalesced(a)
            follower = pool.submit(post, a, "/v1/chat/completions", chat_body(marker))
            wait_until(lambda: coalesced(a) > joined, 5, "the follower to join the flight")
        answer = follower.result()  # the leader's client left: its `with` ended
    content, finish, usage, last = sse_summary(answer.text)
    assert answer.status_code == 200 and last == "[DONE]" and content and finish and usage
    assert upstream_calls(own_fleet, marker) <= 2


def test_typeahead_answers_the_rest_of_the_suggestion(
    replicas: tuple[Proc, Proc], own_fleet: Proc
) -> None:
    a, _ = replicas
    marker = uuid.uuid4().hex[:8]
    head = f"# {marker}\ndef add(a, b):\n    return "
    tail = "<|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>"
    body = {"model": "auto", "prompt": f"<|fim_prefix|>{head}{tail}", "temperature": 0.1,
            "max_tokens": 64}
    first = post(a, "/v1/completions", body)
    assert first.headers["x-laneway-cache"] == "miss"
    suggestion = first.json()["choices"][0]["text"]
    assert len(suggestion) >= 3
    def typed_prompt(k: int) -> str:
        return f"<|fim_prefix|>{head}{suggestion[:k]}{tail}"

    typed = post(a, "/v1/completions", body | {"prompt": typed_prompt(2)})
    assert typed.headers["x-laneway-cache"] == "typeahead"
    assert typed.json()["choices"][0]["text"] == suggestion[2:]
    streamed = post(a, "/v1/completions", body | {"prompt": typed_prompt(1), "stream": True})
    assert streamed.headers["x-laneway-cache"] == "typeahead"
    text = "".join(orjson.loads(line[6:])["choices"][0]["text"]
                   for line in streamed.text.splitlines()
                   if line.startswith("data: {") and '"choices":[{' in line)
    assert text == suggestion[1:]
    assert upstream_calls(own_fleet, marker) == 1


def test_a_streamed_responses_answer_replays_its_events(replicas: tuple[Proc, Proc]) -> None:
    a, _ = replicas
    body = {"model": "auto", "input": f"What is a monad? [{uuid.uuid4().hex}]",
            "temperature": 0, "stream": True}

    def events(r: httpx.Response) -> list[dict[str, Any]]:
        return [orjson.loads(line[6:]) for line in r.text.splitlines()
                if line.startswith("data: {")]

    first, again = post(a, "/v1/responses", body), post(a, "/v1/responses", body)
    assert (first.headers["x-laneway-cache"], again.headers["x-laneway-cache"]) == ("miss", "l1")
    replay = events(again)
    assert [e["sequence_number"] for e in replay] == list(range(len(replay)))
    assert replay[0]["type"] == "response.created" and replay[-1]["type"] == "response.completed"
    final = next(e for e in events(first) if e.get("type") == "response.completed")
    # every field, usage included; the id is laneway's own per answer
    assert replay[-1]["response"].pop("id") != final["response"].pop("id")
    assert replay[-1]["response"] == final["response"]
    text = "".join(e["delta"] for e in replay if e["type"] == "response.output_text.delta")
    assert text == final["response"]["output"][0]["content"][0]["text"]


@pytest.mark.parametrize("fault", [{"cut_stream": True}, {"stream_error": True}])
def test_a_stream_cut_by_the_upstream_is_not_cached(
    replicas: tuple[Proc, Proc], own_fleet: Proc, fleet_ctl: httpx.Client, fault: dict[str, Any]
) -> None:
    a, _ = replicas
    marker = uuid.uuid4().hex
    fleet_ctl.post("/fleet/faults", json={"model": "*", **fault}).raise_for_status()
    cut = post(a, "/v1/chat/completions", chat_body(marker))
    assert '"error"' in cut.text and "[DONE]" not in cut.text
    fleet_ctl.delete("/fleet/faults").raise_for_status()
    whole = post(a, "/v1/chat/completions", chat_body(marker))
    assert whole.headers["x-laneway-cache"] == "miss" and sse_summary(whole.text)[3] == "[DONE]"
    assert upstream_calls(own_fleet, marker) == 2


def test_a_stream_cut_by_the_client_is_not_cached(
    replicas: tuple[Proc, Proc], own_fleet: Proc, fleet_ctl: httpx.Client
) -> None:
    a, _ = replicas
    marker = uuid.uuid4().hex
    fleet_ctl.post("/fleet/faults", json={"model": "*", "chunk_delay_ms": 150}).raise_for_status()
    with httpx.stream("POST", a.url + "/v1/chat/completions", json=chat_body(marker),
                      headers={"authorization": f"Bearer {KEY_A}"}, timeout=30) as resp:
        assert resp.headers["x-laneway-cache"] == "miss"
        next(resp.iter_raw())  # the first chunk, then the client goes away
    cancelled = httpx.get(own_fleet.url + "/fleet/requests",
                          params={"state": "cancelled", "wait": 10}).json()["requests"]
    assert any(marker in orjson.dumps(e.get("body")).decode() for e in cancelled)
    fleet_ctl.delete("/fleet/faults").raise_for_status()
    again = post(a, "/v1/chat/completions", chat_body(marker))
    assert again.headers["x-laneway-cache"] == "miss"
    assert upstream_calls(own_fleet, marker) == 2


def overheads_ms(lw: Proc, request_ids: list[str]) -> list[float]:
    """laneway's own time per request (upstream excluded), from its access log."""
    wanted: dict[str, float] = {}

    def logged() -> bool:
        for line in lw.log().splitlines():
            if line.startswith("{") and '"request_id"' in line:
                entry = orjson.loads(line)
                if entry["request_id"] in request_ids:
                    wanted[entry["request_id"]] = entry["overhead_ms"]
        return len(wanted) == len(set(request_ids))

    wait_until(logged, 5, "the access log lines")  # written after the answer, off its path
    return list(wanted.values())


def test_redis_frozen_then_killed_mid_traffic(
    own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("cache-faults")
    redis = RedisServer(tmp)
    lw = start_laneway(tmp, config(own_fleet, redis.url))
    try:
        marker = uuid.uuid4().hex

        def ask(i: int) -> str:
            r = post(lw, "/v1/chat/completions", chat_body(f"{marker}-{i}"), timeout=10)
            assert r.status_code == 200 and sse_summary(r.text)[3] == "[DONE]"
            return r.headers["x-request-id"]

        with ThreadPoolExecutor(8) as pool:
            healthy = list(pool.map(ask, range(1000, 1040)))
        redis.freeze()
        with ThreadPoolExecutor(8) as pool:
            frozen = list(pool.map(ask, range(5, 45)))  # every request succeeds
        # The Redis timeout is 50 ms: no request waited on the frozen server much longer
        # (laneway's own time per request, against the same traffic with Redis healthy).
        usual = max(overheads_ms(lw, healthy))
        assert max(overheads_ms(lw, frozen)) < usual + 50 + 50
        assert httpx.get(lw.url + "/readyz").json()["redis"] == "degraded"
        redis.thaw()
        wait_until(lambda: httpx.get(lw.url + "/readyz").json()["redis"] == "ok", 5,
                   "caching to resume")
        stored = redis.answers()
        ask(100)
        wait_until(lambda: redis.answers() > stored, 5, "writes to reach Redis again")
        redis.kill()
        killed = [ask(i) for i in range(200, 210)]
        assert max(overheads_ms(lw, killed)) < usual + 50 + 50
        redis.start()  # same port
        wait_until(lambda: httpx.get(lw.url + "/readyz").json()["redis"] == "ok", 5,
                   "caching to resume after a restart")
    finally:
        lw.stop()
        redis.kill()


def test_laneway_starts_and_serves_without_redis(
    own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("cache-no-redis")
    lw = start_laneway(tmp, config(own_fleet, f"redis://127.0.0.1:{low_port()}/0"))
    try:
        assert httpx.get(lw.url + "/readyz").json()["redis"] == "degraded"
        r = post(lw, "/v1/chat/completions", chat_body(uuid.uuid4().hex))
        assert r.status_code == 200 and r.headers["x-laneway-cache"] == "miss"
        again = post(lw, "/v1/chat/completions", chat_body(uuid.uuid4().hex, stream=False))
        assert again.status_code == 200
    finally:
        lw.stop()


def test_a_redis_cluster_serves_as_l2(
    own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("cache-cluster")
    nodes = start_cluster(tmp)
    procs: list[Proc] = []
    try:
        url = f"redis+cluster://127.0.0.1:{nodes[0].port}"
        procs.append(start_laneway(tmp, config(own_fleet, url)))
        procs.append(start_laneway(tmp, config(own_fleet, f"redis://127.0.0.1:{nodes[1].port}",
                                               cluster=True)))
        a, b = procs
        markers = [uuid.uuid4().hex for _ in range(6)]
        for m in markers:
            assert post(a, "/v1/chat/completions", chat_body(m)).headers[
                "x-laneway-cache"] == "miss"
        wait_until(lambda: sum(n.answers() for n in nodes) >= 6, 5, "answers in the cluster")
        for m in markers:
            r = post(b, "/v1/chat/completions", chat_body(m))
            assert r.headers["x-laneway-cache"] == "l2"
            assert upstream_calls(own_fleet, m) == 1
    finally:
        for p in procs:
            p.stop()
        for n in nodes:
            n.kill()
