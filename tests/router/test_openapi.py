"""The OpenAPI document and the request checks come from the same shapes: what the
document says a request needs is what laneway refuses a request for lacking."""

from __future__ import annotations

import httpx
import orjson
import pytest

from router.config import parse
from router.errors import InvalidRequest
from router.frontends.registry import FRONTENDS
from router.http import openapi
from router.http.app import create_app

CONFIG = {"models": [{"name": "m", "api_base": "http://127.0.0.1:9/v1"}]}


@pytest.fixture(scope="module")
def doc() -> dict:
    app = create_app(parse(CONFIG))
    return orjson.loads(openapi.document(app, [f.shape for f in app.frontends]))


def _schema(doc: dict, path: str) -> dict:
    ref = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


@pytest.mark.parametrize("frontend", FRONTENDS, ids=lambda f: f.api)
def test_every_model_route_is_documented_with_the_shape_it_checks(doc: dict, frontend) -> None:
    for path in frontend.paths:
        schema = _schema(doc, path)
        assert schema["additionalProperties"] is True  # other fields pass to the model
        good = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}
        for field in schema["required"]:
            frontend.parse(good)
            with pytest.raises(InvalidRequest) as refused:
                frontend.parse({k: v for k, v in good.items() if k != field})
            assert refused.value.param == field


@pytest.mark.parametrize("field,value", [("stream", "yes"), ("max_tokens", 1.5),
                                         ("temperature", True), ("tools", {})])
def test_a_field_of_the_wrong_documented_type_is_refused_by_name(doc: dict, field: str,
                                                                  value: object) -> None:
    documented = _schema(doc, "/v1/chat/completions")["properties"][field]
    assert documented["anyOf"][0]["type"] in ("boolean", "integer", "number", "array")
    body = {"model": "auto", "messages": [{"role": "user"}], field: value}
    with pytest.raises(InvalidRequest) as refused:
        FRONTENDS[0].parse(body)
    assert refused.value.param == field and refused.value.code == "invalid_type"


async def test_the_document_needs_a_key_and_lists_every_route() -> None:
    app = create_app(parse(CONFIG | {"server": {"api_keys": ["sk-doc"]}}))
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=transport, base_url="http://laneway") as client:
        assert (await client.get("/openapi.json")).status_code == 401
        r = await client.get("/openapi.json", headers={"authorization": "Bearer sk-doc"})
    assert r.status_code == 200
    paths = r.json()["paths"]
    routes = {p for f in FRONTENDS for p in f.paths} | {"/laneway/explain", "/v1/models"}
    assert routes <= set(paths)
    assert paths["/healthz"]["get"]["security"] == []
