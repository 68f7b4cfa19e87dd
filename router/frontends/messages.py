"""The Anthropic Messages front end: `POST /v1/messages` through the chain, and
`POST /v1/messages/count_tokens` (laneway's own count, no upstream call).

What differs from the OpenAI front ends is at the edges: the key may come as `x-api-key`,
errors take Anthropic's shape (`event: error` ends a failed stream), a stream ends with
`message_stop`. Models that speak Messages get the body with laneway's edits only; others
get it translated by a bridge (router/upstreams/bridges.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, NotRequired

import orjson
from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)
from starlette.requests import Request
from starlette.responses import Response
from typing_extensions import TypedDict

from cache.sse import ended_with_error
from policies.lanes import Endpoint
from policies.trim_chat import cost
from router.errors import LanewayError
from router.frontends.base import JSON, Frontend
from router.frontends.openai import invalid_request
from router.frontends.shapes import Model, Number
from router.translate.messages_errors import anthropic_body, anthropic_sse

_OPEN = ConfigDict(extra="allow")  # fields laneway does not read pass as they are


class Turn(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    # `system` turns: Claude Code's mid-conversation system messages (a beta).
    role: Literal["user", "assistant", "system"]
    content: StrictStr | list[Any]


class _Common(TypedDict):
    __pydantic_config__ = _OPEN  # type: ignore[misc]
    model: Model
    messages: list[Turn]
    system: NotRequired[StrictStr | list[Any] | None]
    tools: NotRequired[list[Any] | None]


class MessagesRequest(_Common):
    """What laneway reads of a Messages request; the rest passes as the client sent it."""

    max_tokens: Annotated[StrictInt, Field(ge=1)]
    stream: NotRequired[StrictBool | None]
    stop_sequences: NotRequired[list[StrictStr] | None]
    temperature: NotRequired[Number | None]
    top_p: NotRequired[Number | None]
    top_k: NotRequired[StrictInt | None]


class CountTokensRequest(_Common):
    pass


def api_key(headers: Mapping[str, str]) -> str | None:
    """Anthropic's SDKs send `x-api-key`; Claude Code with ANTHROPIC_AUTH_TOKEN, a Bearer."""
    auth = headers.get("authorization")
    if auth is None:
        key = headers.get("x-api-key")
        if key:
            return "Bearer " + key
    return auth


class MessagesFrontend(Frontend):
    api = "messages"
    endpoint = Endpoint.MESSAGES
    paths = ("/v1/messages", "/messages")
    shape = MessagesRequest
    summary = "Anthropic Messages API"

    def __init__(self) -> None:
        self._check: Any = None  # built on first use, not at import

    def credential(self, headers: Mapping[str, str]) -> str | None:
        return api_key(headers)

    def parse(self, body: dict[str, Any]) -> None:
        check = self._check
        if check is None:
            check = self._check = TypeAdapter(MessagesRequest).validate_python
        try:
            check(body)
        except ValidationError as exc:
            raise invalid_request(exc) from None

    def error_body(self, err: LanewayError) -> bytes:
        return anthropic_body(err)

    def stream_error(self, err: LanewayError) -> bytes:
        return anthropic_sse(err)

    def closed_by_error(self, chunks: list[bytes]) -> bool:
        return ended_with_error(chunks)

    def __repr__(self) -> str:
        return "MessagesFrontend()"


MESSAGES = MessagesFrontend()
_COUNT = TypeAdapter(CountTokensRequest)


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
        total += cost(orjson.dumps(tools).decode())  # a schema is read as its JSON text
    return total


async def count_tokens(request: Request) -> Response:
    """`{"input_tokens": N}`, answered by laneway alone."""
    from router.http.body import read_json
    from router.http.endpoints import _runtime, plain_headers, request_id
    from router.observe import logline

    rt = _runtime(request)
    rid = request_id(request)
    try:
        rt.keys.tenant(api_key(plain_headers(request)))
        body = await read_json(request, rt.config.raw.server.max_body_bytes)
        try:
            _COUNT.validate_python(body)
        except ValidationError as exc:
            raise invalid_request(exc) from None
        n = input_tokens(body)
    except LanewayError as err:
        rt.metrics.requests.labels("none", "none", str(err.status), "bypass").inc()
        logline.refusal(rid, request.url.path, None, err.status,
                        logline.reason_of(err.code, err.message), 0.0)
        return MESSAGES.error(err, rid)
    return Response(orjson.dumps({"input_tokens": n}), media_type=JSON,
                    headers={"x-request-id": rid})
