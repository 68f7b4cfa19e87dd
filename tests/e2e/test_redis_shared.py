"""One Redis connection per laneway worker: the L2 cache and the shared rate limits both go
through the runtime's one Redis layer (what an operator counts with CLIENT LIST)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from procs import Proc, RedisServer, fleet_models, start_laneway, wait_until

from cache.feedback_redis import CLIENT_NAME

KEY = "sk-shared-redis"


@pytest.fixture
def redis_and_laneway(
    own_fleet: Proc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RedisServer, Proc]]:
    tmp = tmp_path_factory.mktemp("shared-redis")
    with RedisServer(tmp) as redis:
        config = {"server": {"api_keys": [KEY], "limits": {"requests_per_minute": 600}},
                  "redis": {"url": redis.url}, "models": fleet_models(own_fleet.url)}
        with start_laneway(tmp, config) as proc:
            yield redis, proc


def _clients(redis: RedisServer) -> int:
    """Connections to Redis other than redis-cli's own and the feedback store's (which has
    its own pool until it moves onto cache/redis_layer)."""
    return sum(1 for line in redis.cli("client", "list").splitlines()
               if "cmd=client" not in line and f"name={CLIENT_NAME} " not in line)


def test_the_cache_and_the_limits_share_one_connection(
    redis_and_laneway: tuple[RedisServer, Proc],
) -> None:
    redis, proc = redis_and_laneway
    body = {"model": "auto", "temperature": 0,
            "messages": [{"role": "user", "content": f"Explain git rebase. [{uuid.uuid4()}]"}]}
    headers = {"authorization": f"Bearer {KEY}"}
    for expected in ("miss", "l1"):
        r = httpx.post(proc.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
        assert r.status_code == 200 and r.headers["x-laneway-cache"] == expected
    wait_until(lambda: redis.answers() == 1, 5, "the answer to reach Redis")
    assert "laneway:rl:" in redis.cli("--scan", "--pattern", "laneway:rl:*")  # limits shared
    assert _clients(redis) == 1
