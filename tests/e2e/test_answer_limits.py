"""What an upstream answer may cost laneway in memory, seen from an OpenAI SDK client: a
non-streamed answer past `server.max_answer_bytes` is a clear 502; a stream past the cache's
own limit on an answer is relayed whole and simply not cached."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from openai import APIStatusError, OpenAI
from procs import Proc, fleet_models, start_laneway

KEY = "sk-limits"
CAP = 2_000_000


@pytest.fixture(scope="module")
def client(own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    tmp = tmp_path_factory.mktemp("limits")
    config = {"server": {"api_keys": [KEY], "max_answer_bytes": CAP},
              "models": fleet_models(own_fleet.url)}
    with start_laneway(tmp, config) as proc, OpenAI(
        base_url=proc.url + "/v1", api_key=KEY, max_retries=0, timeout=60
    ) as c:
        yield c


def _ask(client: OpenAI, stream: bool, marker: str):
    return client.chat.completions.with_raw_response.create(
        model="auto", stream=stream, temperature=0,
        messages=[{"role": "user", "content": f"Explain git rebase, briefly. [{marker}]"}],
    )


def test_a_plain_answer_past_the_bound_is_a_clear_502(
    client: OpenAI, fleet_ctl: httpx.Client
) -> None:
    fleet_ctl.post("/fleet/faults", json={"model": "*", "answer_bytes": CAP * 2}
                   ).raise_for_status()
    with pytest.raises(APIStatusError) as error:
        _ask(client, False, uuid.uuid4().hex)
    assert error.value.status_code == 502
    assert "max_answer_bytes" in error.value.message and str(CAP) in error.value.message
    fleet_ctl.post("/fleet/faults", json={"model": "*", "answer_bytes": CAP // 2}
                   ).raise_for_status()
    ok = _ask(client, False, uuid.uuid4().hex)
    assert ok.parse().choices[0].message.content


def test_a_stream_past_the_caches_limit_is_relayed_whole_and_not_cached(
    client: OpenAI, fleet_ctl: httpx.Client
) -> None:
    # Past the L1's largest entry (a default L1 of 32 MiB stores answers up to 4 MiB).
    fleet_ctl.post("/fleet/faults", json={"model": "*", "answer_bytes": 5_000_000}
                   ).raise_for_status()
    marker = uuid.uuid4().hex
    texts = []
    for expected in ("miss", "miss"):
        raw = _ask(client, True, marker)
        assert raw.headers["x-laneway-cache"] == expected
        text, finish = "", None
        for chunk in raw.parse():
            for choice in chunk.choices:
                text += choice.delta.content or ""
                finish = choice.finish_reason or finish
        assert text and finish == "stop"
        texts.append(text)
    assert texts[0] == texts[1]
    fleet_ctl.post("/fleet/faults", json={"model": "*", "answer_bytes": 0}).raise_for_status()
    small = uuid.uuid4().hex
    for expected in ("miss", "l1"):  # an ordinary stream is cached, as ever
        raw = _ask(client, True, small)
        assert raw.headers["x-laneway-cache"] == expected
        assert "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
