"""The front door (router/http/front.py): model routes skip FastAPI's stack, and still answer a
bug the way the stack would, while every other method and path keeps its usual answer."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from router.http.front import Laneway, bug_response


async def broken(request: Request) -> Response:
    raise RuntimeError("a bug with a secret: sk-do-not-leak")


async def fine(request: Request) -> Response:
    return Response(b'{"ok":true}', media_type="application/json")


@pytest.fixture
def app() -> Laneway:
    app = Laneway(docs_url=None, redoc_url=None, openapi_url=None)
    app.hot = {"/v1/broken": broken, "/v1/fine": fine}
    app.router.add_route("/v1/fine", fine, methods=["POST"])

    async def on_bug(request: Request, exc: Exception) -> Response:
        return bug_response(request)

    app.add_exception_handler(Exception, on_bug)
    return app


async def call(app: Laneway, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://laneway") as client:
        return await client.request(method, path, json={})


async def test_a_bug_on_a_model_route_is_an_openai_500_and_logged(
    app: Laneway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="laneway"):
        r = await call(app, "POST", "/v1/broken")
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["type"] == "server_error" and "logged" in err["message"]
    assert "sk-do-not-leak" not in r.text
    assert r.headers["x-request-id"]
    assert any("sk-do-not-leak" in (rec.exc_text or "") for rec in caplog.records)


async def test_other_methods_and_paths_go_through_the_stack(app: Laneway) -> None:
    assert (await call(app, "POST", "/v1/fine")).json() == {"ok": True}
    assert (await call(app, "GET", "/v1/fine")).status_code == 405  # not a hot dispatch
    assert (await call(app, "POST", "/v1/other")).status_code == 404
