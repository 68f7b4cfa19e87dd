"""Who may call: Bearer keys from `server.api_keys`; no path spelling gets around them."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import KEY_A, KEY_B, UPSTREAM_KEY, auth, fleet_log, secrets_in
from procs import Proc

from router.config import parse
from router.http.app import create_app

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "What is a closure?"}]}
PUBLIC = {"/healthz", "/readyz", "/metrics"}


def raw_request(base: str, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Send `path` byte for byte: no client-side normalisation of `//`, `.` or `%xx`."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
        for k, v in {"content-type": "application/json", "content-length": str(len(body)),
                     **(headers or {})}.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def assert_openai_error(resp: httpx.Response, status: int, kind: str) -> dict:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == kind
    return err


def test_no_key_is_401(guarded: Proc, client: httpx.Client):
    r = client.post(guarded.url + "/v1/chat/completions", json=CHAT)
    assert_openai_error(r, 401, "authentication_error")


@pytest.mark.parametrize("header", [
    "Bearer wrong-key-0123456789", f"Bearer {KEY_A}x", f"Bearer {KEY_A[:-1]}", f"Basic {KEY_A}",
    f"Token {KEY_B}", "Bearer", KEY_A,
])
def test_wrong_key_is_401_and_never_echoed(guarded: Proc, client: httpx.Client, header: str):
    r = client.post(guarded.url + "/v1/chat/completions", json=CHAT,
                   headers={"authorization": header})
    assert_openai_error(r, 401, "authentication_error")
    presented = header.split(" ", 1)[-1]
    text = r.text + str(r.headers)
    assert len(presented) < 8 or presented not in text
    assert not secrets_in(text)


@pytest.mark.parametrize("key", [KEY_A, KEY_B])
def test_each_configured_key_is_let_in(guarded: Proc, upstream: Proc, client: httpx.Client,
                                       key: str):
    r = client.post(guarded.url + "/v1/chat/completions", json=CHAT, headers=auth(key))
    assert r.status_code == 200, r.text
    assert "server" not in r.headers  # no banner naming the server software
    # The upstream got laneway's key, never the client's.
    assert fleet_log(upstream)[-1]["authorization"]["value"] == "Bearer " + UPSTREAM_KEY


def test_every_route_but_health_and_metrics_needs_a_key(guarded: Proc, client: httpx.Client):
    """Walks the app's own route table, so a route added later is covered too."""
    cfg = parse({"server": {"api_keys": ["k"]}, "models": [{"name": "m", "api_base": "http://x"}]})
    routes = [(m, r.path) for r in create_app(cfg).routes for m in getattr(r, "methods", ())
              if m != "HEAD"]
    assert len(routes) >= 10
    for method, path in routes:
        r = client.request(method, guarded.url + path, content=b"{}",
                          headers={"content-type": "application/json"})
        if path in PUBLIC:
            assert r.status_code == 200, (method, path)
        else:
            assert r.status_code == 401, (method, path, r.status_code, r.text)


TRICKS = [
    "//v1/chat/completions", "/v1//chat/completions", "/v1/chat/completions/",
    "/v1/chat/completions//", "/V1/chat/completions", "/v1/Chat/Completions",
    "/v1/chat%2Fcompletions", "/v1%2Fchat%2Fcompletions", "/%761/chat/completions",
    "/v1/chat/completions%00", "/v1/chat/completions;x=1", "/v1/./chat/completions",
    "/v1/../v1/chat/completions", "/v1/chat/completions?x=1", "/v1/chat/completions#x",
    "/v1/models/", "//v1/models", "/V1/MODELS", "/laneway/explain/", "//laneway/explain",
    "/healthz/../v1/chat/completions", "/metrics/../v1/models", "/openapi.json/",
    "http://127.0.0.1/v1/chat/completions", "*",
]


@pytest.mark.parametrize("path", TRICKS)
@pytest.mark.parametrize("method", ["POST", "GET"])
def test_path_tricks_get_401_or_404_never_an_answer(guarded: Proc, upstream: Proc, path: str,
                                                   method: str):
    status, body = raw_request(guarded.url, method, path, b'{"model": "auto", "messages": '
                               b'[{"role": "user", "content": "hi"}]}')
    assert status in (400, 401, 404, 405), (path, status, body[:200])
    assert b"choices" not in body and b'"data"' not in body
    assert fleet_log(upstream) == []


def test_public_routes_answer_without_a_key(guarded: Proc, client: httpx.Client):
    for path in sorted(PUBLIC):
        assert client.get(guarded.url + path).status_code == 200
