"""Reading a request body: the size limit while reading, then JSON (its shape is the front
end's to check: router/frontends/).

The limit is enforced on the bytes as they arrive, so a 40 MiB body is refused after
max_body_bytes, whether or not it declared a Content-Length.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from router.errors import InvalidRequest, RequestTooLarge
from router.stages.supersede import ClientGone

_UNREAD = "<unread>"


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    return (await read_body(request, limit))[0]


async def read_body(
    request: Request, limit: int, declared: str | None = _UNREAD
) -> tuple[dict[str, Any], int]:
    """The body as a JSON object, and its size in bytes (a cheap proxy for its tokens).
    `declared`: the Content-Length header when the caller has the headers at hand."""
    if declared is _UNREAD:
        declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
        except ValueError:
            raise InvalidRequest("Invalid Content-Length header.") from None
    chunks: list[bytes] = []
    size = 0
    # The ASGI messages themselves, as Starlette's request.stream() reads them, without its
    # async generator (a frame and an extra resumption per request). Nothing reads the
    # body through Starlette afterwards.
    receive = request.receive
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise RequestTooLarge(f"Request body exceeds the limit of {limit} bytes.")
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientGone("The client left while sending the body.")
    raw = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if not raw:
        raise InvalidRequest("The request body is empty; a JSON object is required.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc.msg}.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body, size
