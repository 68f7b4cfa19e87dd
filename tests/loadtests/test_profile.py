"""The profile tool shows where the request path spends its time, stage by stage."""

from __future__ import annotations

from loadtests.bench.profile import parse_raw

RAW = "\n".join([
    "run (/src/router/http/front.py:40);handle (/src/router/stages/chain.py:60);"
    "run (/src/router/stages/classify.py:20);classify (/src/policies/lanes.py:9) 5",
    "run (/src/router/http/front.py:40);handle (/src/router/stages/chain.py:60);"
    "call (/src/router/stages/upstream.py:20);post (/src/router/upstreams/http1.py:9) 3",
    "select (/usr/lib/python3.11/selectors.py:4) 7",
])


def test_samples_are_counted_per_stage_of_the_chain_and_per_room() -> None:
    prof = parse_raw(RAW)
    assert prof.total == 8 and prof.idle == 7
    assert prof.stages["stage chain"] == 8  # the chain holds every stage's time
    assert prof.stages["stage classify"] == 5 and prof.stages["stage upstream"] == 3
    assert prof.stages["upstreams"] == 3 and prof.stages["http"] == 8
