"""Hostile bodies: smuggled redirects, oversized uploads, malformed JSON, secret-fishing errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import BODY_LIMIT, UPSTREAM_KEY, auth, fleet_log, secrets_in, set_fault
from procs import Proc

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is a closure?"}]}
BIG = 40 * 1024 * 1024


def smuggled(decoy: Proc) -> dict:
    evil = decoy.url + "/v1"
    return {
        "api_base": evil, "base_url": evil, "api_key": "sk-evil-123456", "api_version": "x",
        "custom_llm_provider": "openai", "extra_headers": {"authorization": "Bearer sk-evil"},
        "model_list": [{"model_name": "auto", "litellm_params": {"api_base": evil}}],
        "fallbacks": [{"auto": ["evil"]}], "num_retries": 9, "mock_response": "pwned",
        "aws_secret_access_key": "x", "litellm_params": {"api_base": evil},
        "user_config": {"model_list": [{"model_name": "auto",
                                        "litellm_params": {"api_base": evil}}]},
        "User_Config": {"model_list": []}, "proxy": evil, "http_client": evil,
        "default_query": {"x": "y"}, "lora_request": {"path": "/etc"},
        "extra_body": {"api_base": evil, "model": "qwen3-235b-a22b", "top_k": 20,
                       "user_config": {"model_list": []},
                       "extra_body": {"metadata": {"api_base": evil}}},
        "metadata": {"trace": "t-1", "api_base": evil, "headers": {"x": "y"}},
    }


@pytest.mark.parametrize("path,body", [
    ("/v1/chat/completions", CHAT),
    ("/v1/chat/completions", CHAT | {"stream": True}),
    ("/v1/completions", {"model": "auto", "prompt": "def add(a, b):\n    ", "max_tokens": 16}),
    ("/v1/responses", {"model": "auto", "input": "Explain a mutex."}),
])
def test_smuggled_redirects_never_leave_laneway(guarded: Proc, upstream: Proc, decoy: Proc,
                                                client: httpx.Client, path: str, body: dict):
    r = client.post(guarded.url + path, json=body | smuggled(decoy), headers=auth())
    assert r.status_code == 200, r.text
    assert fleet_log(decoy) == []
    [sent] = fleet_log(upstream)
    forwarded = sent["body"]
    leftovers = set(forwarded) & set(smuggled(decoy)) - {"metadata"}
    assert not leftovers
    assert forwarded["top_k"] == 20  # merged from extra_body, as the SDK would have
    assert forwarded["metadata"] == {"trace": "t-1"}
    assert forwarded["model"] != "qwen3-235b-a22b" or body is not CHAT
    assert sent["authorization"]["value"] == f"Bearer {UPSTREAM_KEY}"
    assert "pwned" not in r.text


@pytest.mark.parametrize("model,forwarded", [("qwen3-235b-a22b", True),
                                             ("qwen3-14b", False)])
def test_extra_fields_reach_only_the_models_that_name_them(
    guarded: Proc, upstream: Proc, client: httpx.Client, model: str, forwarded: bool
):
    body = CHAT | {"model": model, "lora_request": {"lora_name": "sql"}}
    r = client.post(guarded.url + "/v1/chat/completions", json=body, headers=auth())
    assert r.status_code == 200, r.text
    [sent] = fleet_log(upstream)
    assert ("lora_request" in sent["body"]) is forwarded


async def _upload(url: str, chunked: bool) -> tuple[int, int]:
    """Send a 40 MiB body while watching for the answer; (status, bytes sent by then)."""
    u = urlsplit(url)
    reader, writer = await asyncio.open_connection(u.hostname, u.port)
    framing = "transfer-encoding: chunked" if chunked else f"content-length: {BIG}"
    writer.write(
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {auth()['authorization'][7:]}\r\n{framing}\r\n\r\n".encode()
    )
    answer = asyncio.ensure_future(reader.readuntil(b"\r\n\r\n"))
    piece = b'{"model": "auto", "messages": [' + b" " * (256 * 1024)
    sent = 0
    try:
        while sent < BIG and not answer.done():
            data = piece[: BIG - sent]
            writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            sent += len(data)
            try:
                await asyncio.wait_for(writer.drain(), 5)
            except (ConnectionError, TimeoutError):
                break  # the server stopped reading: it has answered (or will, at once)
        head = await asyncio.wait_for(answer, 10)
    finally:
        writer.close()
    return int(head.split(b" ", 2)[1]), sent


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_40_mib_body_is_refused_early_without_buffering(guarded: Proc, chunked: bool):
    before = rss_kib(guarded.proc.pid)
    status, sent = await _upload(guarded.url, chunked)
    assert status == 413
    # Refused after about the limit (plus what socket buffers hold), never after the whole.
    assert sent < BODY_LIMIT + 8 * 1024 * 1024, sent
    assert rss_kib(guarded.proc.pid) - before < 16 * 1024
    assert httpx.get(guarded.url + "/healthz").status_code == 200


MALFORMED = [
    (b"", None), (b"{", None), (b"[]", None), (b'"text"', None), (b"1", None), (b"null", None),
    (b'{"model": "auto", "messages": [{"role": "user", "content": "\xff\xfe"}]}', None),
    (b'{"model": "auto", "messages": [{"role": "user", "content": "\\ud800"}]}', None),
    (b'\xef\xbb\xbf{"model": "auto", "messages": []}', None),
    (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
    (b'{"model": "auto", "messages": "hello"}', "messages"),
    (b'{"model": "auto", "messages": []}', "messages"),
    (b'{"model": "auto", "messages": [5]}', "messages[0]"),
    (b'{"model": "auto", "messages": [{"role": "user", "content": 5}]}', "messages[0].content"),
    (b'{"model": "auto", "messages": [{"role": "user"}], "stream": "yes"}', "stream"),
    (b'{"model": "auto", "messages": [{"role": "user"}], "max_tokens": "9"}', "max_tokens"),
    (b'{"model": "auto", "messages": [{"role": "user"}], "temperature": true}', "temperature"),
    (b'{"model": "auto", "messages": [{"role": "user"}], "tools": {}}', "tools"),
]


def _deep(levels: int, where: str) -> bytes:
    nested = "[" * levels + "]" * levels
    content = '"hi"'
    if where == "part":  # inside a content part: the chat trimming's image scan walks it
        content = f'[{{"type": "text", "text": "hi", "x": {nested}}}]'
    extra = f', "x": {nested}' if where == "field" else ""
    body = f'{{"model": "auto", "messages": [{{"role": "user", "content": {content}}}]{extra}}}'
    return body.encode()


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/laneway/explain"])
@pytest.mark.parametrize("where", ["part", "field"])
def test_json_nested_deeper_than_the_encoder_takes_is_a_400(
    guarded: Proc, upstream: Proc, client: httpx.Client, path: str, where: str
):
    raw = _deep(600, where)
    if path == "/laneway/explain":
        raw = b'{"path": "/v1/chat/completions", "body": ' + raw + b"}"
    r = client.post(guarded.url + path, content=raw,
                    headers=auth() | {"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert fleet_log(upstream) == []
    # Many containers, shallow: served as ever (only the content part is kept upstream).
    wide = ('{"model": "auto", "messages": [{"role": "user", "content": [' + ", ".join(
        ['{"type": "text", "text": "a"}'] * 400) + ']}]}').encode()
    assert client.post(guarded.url + "/v1/chat/completions", content=wide,
                       headers=auth() | {"content-type": "application/json"}).status_code == 200


@pytest.mark.parametrize("raw,param", MALFORMED)
def test_malformed_bodies_get_openai_shaped_400(guarded: Proc, upstream: Proc,
                                               client: httpx.Client, raw: bytes, param: str):
    r = client.post(guarded.url + "/v1/chat/completions", content=raw,
                    headers=auth() | {"content-type": "application/json"})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error"
    if param:
        assert err["param"] == param
    assert fleet_log(upstream) == []


def test_invalid_content_length_is_400(guarded: Proc, client: httpx.Client):
    from test_auth import raw_request

    status, _ = raw_request(guarded.url, "POST", "/v1/chat/completions", b"{}",
                               auth() | {"content-length": "abc"})
    assert status == 400


@pytest.mark.parametrize("path,status", [
    ("/v1/chat/completions", 400), ("/v1/completions", 502), ("/v1/embeddings", 502),
    ("/v1/responses", 400),
])
def test_upstream_errors_quoting_the_key_never_pass_it_on(guarded: Proc, client: httpx.Client,
                                                          path: str, status: int):
    body = {"model": "leaky", "messages": [{"role": "user", "content": "hi"}], "prompt": "x",
            "input": "x"}
    r = client.post(guarded.url + path, json=body, headers=auth())
    assert r.status_code == status, r.text
    assert "error" in r.json()
    assert not secrets_in(r.text + str(r.headers))
    message = r.json()["error"]["message"]  # not even a fragment of it
    assert UPSTREAM_KEY[:8] not in message and UPSTREAM_KEY[-4:] not in message


def test_forced_fleet_errors_leak_nothing(guarded: Proc, upstream: Proc, client: httpx.Client):
    for status in (500, 503, 401, 429):
        set_fault(upstream, {"status": status})
        for body in (CHAT, CHAT | {"stream": True}):
            r = client.post(guarded.url + "/v1/chat/completions", json=body, headers=auth())
            assert r.status_code >= 400 and not secrets_in(r.text + str(r.headers))
    metrics = client.get(guarded.url + "/metrics").text
    assert not secrets_in(metrics)


def test_no_key_in_the_log(guarded: Proc, client: httpx.Client):
    """Runs last in this module: everything above has been logged by now."""
    client.post(guarded.url + "/v1/chat/completions", json=CHAT,
                headers={"authorization": "Bearer " + UPSTREAM_KEY})  # a key in the wrong place
    log = guarded.log()
    assert log, "laneway wrote no log at all"
    assert not secrets_in(log)
