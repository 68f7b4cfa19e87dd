"""The one Redis layer (cache/redis_layer.py) against real redis-server processes: scripts by
SHA that survive a restart, pipelines whose error replies stay in their places, the same
calls on a cluster."""

from __future__ import annotations

import pytest
from procs import RedisServer

from cache.redis_layer import RedisLayer, ReplyError, Script

ADD = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")


def _calls(server: RedisServer, name: str) -> int:
    for line in server.cli("info", "commandstats").splitlines():
        if line.startswith(f"cmdstat_{name}:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


async def test_a_script_runs_by_sha_and_survives_a_restart(redis_server: RedisServer) -> None:
    layer = RedisLayer(redis_server.url, timeout_s=2.0)
    try:
        await layer.open()
        assert await layer.run(ADD, ["lw:n"], [2]) == 2
        assert await layer.run(ADD, ["lw:n"], [3]) == 5
        assert _calls(redis_server, "evalsha") == 2
        assert _calls(redis_server, "eval") == 1  # sent in full once, when Redis lacked it

        redis_server.kill()
        redis_server.start()  # empty, and knows no script
        with pytest.raises(ConnectionError):
            await layer.run(ADD, ["lw:n"], [1])  # the old socket is gone: no waiting on it
        await layer.open()
        assert layer.up is False and layer.ready
        assert await layer.run(ADD, ["lw:n"], [4]) == 4
        assert layer.up is True
        assert await layer.run(ADD, ["lw:n"], [1]) == 5
        assert _calls(redis_server, "eval") == 1 and _calls(redis_server, "evalsha") == 2
    finally:
        await layer.close()


async def test_a_pipeline_keeps_each_reply_in_its_place(redis_server: RedisServer) -> None:
    redis_server.cli("set", "lw:str", "x")
    layer = RedisLayer(redis_server.url, timeout_s=2.0)
    try:
        await layer.open()
        replies = await layer.pipeline([
            ("INCRBY", "lw:a", 3), ("HINCRBY", "lw:h", "shown", 2), ("HINCRBY", "lw:str", "f", 1),
            ("GET", "lw:a"), ("INCRBYFLOAT", "lw:usd", 0.25),
        ])
        assert replies[:2] == [3, 2]
        assert isinstance(replies[2], ReplyError) and "WRONGTYPE" in str(replies[2])
        assert replies[3:] == [b"3", b"0.25"]
        assert await layer.get("lw:a") == b"3"
        assert await layer.get("lw:none") is None
        with pytest.raises(ReplyError):
            await layer.run(Script("return redis.error_reply('over budget')"), ["lw:a"])
    finally:
        await layer.close()


async def test_the_same_calls_on_a_cluster(redis_cluster: list[RedisServer]) -> None:
    layer = RedisLayer(f"redis+cluster://127.0.0.1:{redis_cluster[0].port}", timeout_s=2.0)
    try:
        assert layer.cluster and not layer.ready
        await layer.open(5.0)
        assert layer.ready
        keys = [f"lw:c:{i}" for i in range(12)]
        assert await layer.run_many([(ADD, [k], [i]) for i, k in enumerate(keys)]) == list(
            range(12)
        )
        for node in redis_cluster:
            node.cli("script", "flush")
        assert await layer.run_many([(ADD, [k], [1]) for k in keys]) == list(range(1, 13))
        replies = await layer.pipeline([("GET", k) for k in keys])
        assert replies == [str(i + 1).encode() for i in range(12)]
        assert all(int(node.cli("dbsize")) for node in redis_cluster)  # spread over shards
        await layer.ping()
    finally:
        await layer.close()
