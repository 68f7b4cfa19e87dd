"""The Anthropic Messages front end: `POST /v1/messages` (through the same pipeline as the
OpenAI routes) and `POST /v1/messages/count_tokens` (laneway's own count, no upstream call).

What differs from the OpenAI routes is only at the edges: the key may come as `x-api-key`,
and errors take Anthropic's shape. Translation to and from OpenAI-compatible models happens
in the upstream adapter (router/upstreams/translated.py), where the model is known.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from policies.lanes import Endpoint
from policies.trim_chat import cost
from router.context import RequestContext
from router.errors import InvalidRequest, LanewayError
from router.http.body import read_json
from router.http.endpoints import _runtime, model_route, plain_headers, request_id
from router.observe import logline
from router.translate.messages_errors import anthropic_body

_JSON = "application/json"


def api_key(headers: dict[str, str]) -> str | None:
    """Anthropic's SDKs send `x-api-key`; Claude Code with ANTHROPIC_AUTH_TOKEN, a Bearer."""
    auth = headers.get("authorization")
    if auth is None:
        key = headers.get("x-api-key")
        if key:
            return "Bearer " + key
    return auth


def error_response(
    err: LanewayError, rid: str, ctx: RequestContext | None = None
) -> Response:
    headers = {"x-request-id": rid, **err.headers}
    if ctx is not None:
        headers.update(ctx.answer_headers())
    return Response(anthropic_body(err), status_code=err.status, media_type=_JSON,
                    headers=headers)


messages = model_route(Endpoint.MESSAGES, error_response, api_key)


def input_tokens(body: dict[str, Any]) -> int:
    """What a Messages request's input costs, by laneway's own counter (cl100k_base)."""
    total = 0
    system = body.get("system")
    if system:
        total += cost(system)
    for m in body.get("messages") or ():
        total += cost(m)
    tools = body.get("tools")
    if tools:
        # A tool's schema is read as its JSON text.
        total += cost(orjson.dumps(tools).decode())
    return total


async def count_tokens(request: Request) -> Response:
    rt = _runtime(request)
    headers = plain_headers(request)
    rid = request_id(request)
    try:
        rt.keys.tenant(api_key(headers))
        body = await read_json(request, rt.config.raw.server.max_body_bytes)
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise InvalidRequest("messages: Field required (an array of messages).",
                                 param="messages")
        n = input_tokens(body)
    except LanewayError as err:
        rt.metrics.requests.labels("none", "none", str(err.status), "bypass").inc()
        logline.refusal(rid, "POST", request.url.path, err.status, err.code)
        return error_response(err, rid)
    return Response(orjson.dumps({"input_tokens": n}), media_type=_JSON,
                    headers={"x-request-id": rid})
