"""A static OpenAPI 3.1 document of laneway's HTTP surface, served at /openapi.json.

Written by hand rather than generated: the routes are plain Starlette handlers (no FastAPI
models on the hot path), and the document only has to say what laneway checks itself
(types of the fields it reads); everything else passes to the model as the client sent it.
Fuzzers (schemathesis, or tests/security/test_fuzz.py) start from it. It needs a key, like
every route but health and metrics.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.errors import LanewayError

_REF = "#/components/schemas/"
_NUMBER = {"type": "number"}
_INTEGER = {"type": "integer"}
_STOP = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_TEXT_OR_LIST = {"oneOf": [{"type": "string"}, {"type": "array"}]}

_COMMON = {
    "model": {"type": "string", "minLength": 1, "description": "'auto' or a configured model"},
    "stream": {"type": "boolean"},
    "stream_options": {"type": "object"},
    "temperature": _NUMBER, "top_p": _NUMBER, "presence_penalty": _NUMBER,
    "frequency_penalty": _NUMBER, "max_tokens": _INTEGER, "max_completion_tokens": _INTEGER,
    "n": _INTEGER, "stop": _STOP, "tools": {"type": "array"},
}

_MESSAGE = {
    "type": "object", "required": ["role"],
    "properties": {"role": {"type": "string"},
                   "content": {"oneOf": [{"type": "string"}, {"type": "array"},
                                         {"type": "null"}]}},
}


def _body(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["model", *required],
            "properties": {**_COMMON, **props}, "additionalProperties": True}


_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["message", "type"], "properties": {
            "message": {"type": "string"}, "type": {"type": "string"},
            "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]},
        }}},
    },
    "ChatRequest": _body(["messages"], messages={"type": "array", "minItems": 1,
                                                 "items": _MESSAGE}),
    "CompletionRequest": _body(["prompt"], prompt=_TEXT_OR_LIST, suffix={"type": "string"}),
    "ResponsesRequest": _body(["input"], input=_TEXT_OR_LIST, instructions={"type": "string"},
                              max_output_tokens=_INTEGER),
    "EmbeddingsRequest": _body(["input"], input=_TEXT_OR_LIST),
    "MessagesRequest": _body(["messages", "max_tokens"], messages={
        "type": "array", "minItems": 1, "items": _MESSAGE}, system=_TEXT_OR_LIST,
        stop_sequences={"type": "array", "items": {"type": "string"}}),
    "CountTokensRequest": _body(["messages"], messages={"type": "array", "items": _MESSAGE},
                                system=_TEXT_OR_LIST),
    "ExplainRequest": {"type": "object", "required": ["body"], "properties": {
        "path": {"type": "string"}, "body": {"type": "object"}}},
    "Answer": {"type": "object", "description": "the model's answer, as OpenAI shapes it"},
}

_ERRORS = {
    "400": "malformed JSON or a wrong field type", "401": "missing or unknown API key",
    "404": "unknown model or route", "409": "superseded by a newer completion of the session",
    "413": "request body over server.max_body_bytes", "429": "rate limited (retry-after)",
    "502": "upstream error", "503": "no healthy model", "504": "upstream timeout",
}

_HEADERS = [
    {"name": "x-laneway-lane", "in": "header", "required": False,
     "schema": {"type": "string", "enum": ["completion", "qa", "agentic"]}},
    {"name": "x-laneway-session", "in": "header", "required": False,
     "schema": {"type": "string", "maxLength": 128}},
]


def _post(schema: str, summary: str) -> dict[str, Any]:
    json_error = {"application/json": {"schema": {"$ref": _REF + "Error"}}}
    return {"post": {
        "summary": summary,
        "parameters": _HEADERS,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"$ref": _REF + schema}}}},
        "responses": {
            "200": {"description": "the answer (JSON, or SSE when streamed)", "content": {
                "application/json": {"schema": {"$ref": _REF + "Answer"}},
                "text/event-stream": {"schema": {"type": "string"}}}},
            **{code: {"description": why, "content": json_error} for code, why in _ERRORS.items()},
        },
    }}


def _get(summary: str, public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {"200": {"description": "ok"}}}
    if public:
        op["security"] = []
    else:
        op["responses"]["401"] = {"description": _ERRORS["401"]}
    return {"get": op}


@functools.cache
def document() -> bytes:
    paths: dict[str, Any] = {}
    for prefix in ("/v1", ""):
        paths[prefix + "/chat/completions"] = _post("ChatRequest", "Chat completion")
        paths[prefix + "/completions"] = _post("CompletionRequest", "Completion / FIM")
        paths[prefix + "/responses"] = _post("ResponsesRequest", "Responses API")
        paths[prefix + "/embeddings"] = _post("EmbeddingsRequest", "Embeddings (passed through)")
        paths[prefix + "/messages"] = _post("MessagesRequest", "Anthropic Messages API")
        paths[prefix + "/messages/count_tokens"] = _post(
            "CountTokensRequest", "Input tokens of a Messages request, no upstream call")
        paths[prefix + "/models"] = _get("Configured models and 'auto'")
    paths["/laneway/explain"] = _post("ExplainRequest", "The routing decision, no upstream call")
    paths["/healthz"] = _get("Process up", public=True)
    paths["/readyz"] = _get("Config loaded; upstream and Redis state", public=True)
    paths["/metrics"] = _get("Prometheus metrics", public=True)
    paths["/openapi.json"] = _get("This document")
    return orjson.dumps({
        "openapi": "3.1.0",
        "info": {"title": "laneway", "version": "0.1.0",
                 "description": "Model-routing proxy for AI coding traffic (OpenAI-compatible)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"schemas": _SCHEMAS, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    })


async def serve(request: Request) -> Response:
    try:
        request.app.runtime.keys.tenant(request.headers.get("authorization"))
    except LanewayError as err:
        return Response(err.body(), status_code=err.status, media_type="application/json")
    return Response(document(), media_type="application/json")
