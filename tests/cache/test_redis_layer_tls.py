"""The Redis layer over TLS (`rediss://`): the same calls as on a plain connection, against a
private redis-server with a TLS port and a certificate made for the test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import RedisServer, low_port

from cache.redis_layer import RedisLayer, Script
from cache.redis_store import RedisStore

ADD = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])")


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[RedisServer, str]]:
    openssl = shutil.which("openssl") or "/usr/bin/openssl"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    port = low_port()
    with RedisServer(tmp_path, "--tls-port", str(port), "--tls-cert-file", str(cert),
                     "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
                     "--tls-auth-clients", "no") as server:
        yield server, f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={cert}"


async def test_scripts_pipelines_and_the_cache_over_tls(tls_redis: tuple[RedisServer, str]):
    server, url = tls_redis
    layer = RedisLayer(url, timeout_s=2.0)
    try:
        await layer.open()
        assert await layer.run(ADD, ["lw:tls"], [2]) == 2
        server.cli("script", "flush")
        assert await layer.run(ADD, ["lw:tls"], [3]) == 5
        assert await layer.pipeline([("GET", "lw:tls"), ("INCRBY", "lw:tls", 1)]) == [b"5", 6]
        assert layer.up is True
    finally:
        await layer.close()
    store = RedisStore(url, timeout_s=2.0)
    try:
        assert await store.connect(5.0)
        store.put("lw:v1:r:tls", b"answer", 30)
        await store.drain()
        assert await store.get("lw:v1:r:tls") == b"answer"
    finally:
        await store.close()
