"""Fixtures: a private redis-server per test, and a private 3-master Redis Cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import RedisServer, start_cluster


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    """Started once (it takes seconds), emptied before each test by `redis_cluster`."""
    nodes = start_cluster(tmp_path_factory.mktemp("cluster"), "--cluster-node-timeout", "2000")
    try:
        yield nodes
    finally:
        for node in nodes:
            node.kill()


@pytest.fixture
def redis_cluster(redis_cluster_session: list[RedisServer]) -> list[RedisServer]:
    for node in redis_cluster_session:
        node.thaw()  # a test that froze a node and failed must not break the next one
        node.cli("flushall")
    return redis_cluster_session
