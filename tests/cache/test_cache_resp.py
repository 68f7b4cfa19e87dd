"""The lean Redis connection (cache/resp.py) against real redis-server processes: replies
never reach the wrong caller, a dead server fails waiters at once, AUTH/SELECT/unix work."""

from __future__ import annotations

import asyncio
from pathlib import Path

import hiredis
import pytest
from procs import RedisServer

from cache.resp import RespConnection, command, lean_target


def get(key: str) -> bytes:
    return command(b"GET", key.encode())


async def test_a_late_reply_is_dropped_not_handed_to_the_next_caller(
    redis_server: RedisServer,
) -> None:
    redis_server.cli("set", "lw:a", "value-of-a")
    redis_server.cli("set", "lw:b", "value-of-b")
    target = lean_target(redis_server.url)
    assert target is not None
    conn = await RespConnection.open(target, 2.0)
    try:
        redis_server.freeze()
        try:
            with pytest.raises(TimeoutError):
                await conn.request(get("lw:a"), 0.05)
            waiting_b = conn.request(get("lw:b"), 5.0)  # queued behind a's reply
        finally:
            redis_server.thaw()
        assert await waiting_b == b"value-of-b"
        assert await conn.request(get("lw:a"), 5.0) == b"value-of-a"
        assert await conn.request(get("lw:none"), 5.0) is None
    finally:
        conn.close()


async def test_a_killed_server_fails_every_waiter_at_once(redis_server: RedisServer) -> None:
    target = lean_target(redis_server.url)
    assert target is not None
    conn = await RespConnection.open(target, 2.0)
    redis_server.freeze()
    waiting = [conn.request(get(f"lw:{i}"), 30.0) for i in range(3)]
    redis_server.kill()
    done, pending = await asyncio.wait(waiting, timeout=10)  # a 30 s deadline never fires
    assert not pending
    assert all(isinstance(f.exception(), ConnectionError) for f in done)
    assert conn.closed
    with pytest.raises(ConnectionError):
        await conn.request(get("lw:x"), 1.0)
    with pytest.raises(ConnectionError):
        await conn.pipeline([(b"PING",)], 1.0)


async def test_error_replies_raise_and_leave_the_connection_in_step(
    redis_server: RedisServer,
) -> None:
    target = lean_target(redis_server.url)
    assert target is not None
    conn = await RespConnection.open(target, 2.0)
    try:
        with pytest.raises(hiredis.ReplyError):
            await conn.request(command(b"NOSUCHCOMMAND"), 5.0)
        with pytest.raises(hiredis.ReplyError):  # one bad command fails its batch
            await conn.pipeline([(b"SET", b"lw:p", b"1"), (b"INCR", b"lw:p", b"x")], 5.0)
        assert await conn.pipeline([(b"GET", b"lw:p"), (b"PING",)], 5.0) == [b"1", b"PONG"]
    finally:
        conn.close()


async def test_password_and_database_from_the_url(tmp_path: Path) -> None:
    with RedisServer(tmp_path, "--requirepass", "s3cret") as server:
        wrong = lean_target(f"redis://:nope@127.0.0.1:{server.port}/0")
        assert wrong is not None
        with pytest.raises(hiredis.ReplyError):
            await RespConnection.open(wrong, 2.0)
        for url in (f"redis://:s3cret@127.0.0.1:{server.port}/2",
                    f"redis://default:s3cret@127.0.0.1:{server.port}/2"):
            target = lean_target(url)
            assert target is not None
            conn = await RespConnection.open(target, 2.0)
            try:
                await conn.pipeline([(b"SET", b"lw:db", url.encode(), b"PX", b"60000")], 5.0)
            finally:
                conn.close()
            assert server.cli("-n", "2", "get", "lw:db") == url
        assert server.cli("-n", "0", "exists", "lw:db") == "0"


async def test_a_unix_socket(tmp_path: Path) -> None:
    sock = tmp_path / "redis.sock"
    with RedisServer(tmp_path, "--unixsocket", str(sock)) as server:
        server.cli("set", "lw:u", "over-unix")
        target = lean_target(f"unix://{sock}?db=0")
        assert target is not None and target.path == str(sock)
        conn = await RespConnection.open(target, 2.0)
        try:
            assert await conn.request(get("lw:u"), 5.0) == b"over-unix"
        finally:
            conn.close()


def test_tls_urls_are_left_to_redis_py() -> None:
    assert lean_target("rediss://127.0.0.1:6380/0") is None
    assert lean_target("redis://127.0.0.1:6380/0") is not None
