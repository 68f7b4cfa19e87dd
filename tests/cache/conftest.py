"""Fixtures: a private redis-server per test, and a private 3-master Redis Cluster."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis_procs import REDIS_CLI, RedisServer, poll


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.kill()


@pytest.fixture(scope="session")
def redis_cluster_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    """Three masters, no replicas, slots spread by `redis-cli --cluster create`; started once
    (it takes seconds), emptied before each test by `redis_cluster`."""
    tmp_path = tmp_path_factory.mktemp("cluster")
    nodes: list[RedisServer] = []
    try:
        for i in range(3):
            workdir = tmp_path / f"node{i}"
            workdir.mkdir()
            nodes.append(
                RedisServer(workdir, None, "--cluster-enabled", "yes", "--cluster-config-file",
                            str(workdir / "nodes.conf"), "--cluster-node-timeout", "2000")
            )
        subprocess.run(
            [REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, timeout=20, check=True, env={**os.environ, "NO_COLOR": "1"},
        )
        poll(lambda: all("cluster_state:ok" in n.cli("cluster", "info") for n in nodes), 15,
             "the cluster to agree on its slots")
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
