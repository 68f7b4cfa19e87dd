"""OpenAI-shaped JSON answers and errors, including the error answers faults ask for."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fleet.faults import FaultSpec
from fleet.state import FleetState

JSON_HEADERS = {"Content-Type": "application/json"}

_ERROR_TYPES = {
    400: ("invalid_request_error", None), 401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None), 404: ("not_found_error", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    merged = {**JSON_HEADERS, **headers} if headers else JSON_HEADERS
    return web.Response(body=orjson.dumps(obj), status=status, headers=merged)


def error_body(status: int, message: str, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    kind, default_code = _ERROR_TYPES.get(status, ("server_error", "server_error"))
    return {"error": {"message": message, "type": kind, "param": param,
                      "code": code or default_code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return json_response(error_body(status, message, param, code), status, headers)


def fault_error(fault: FaultSpec, state: FleetState) -> web.Response | None:
    """The error answer a fault asks for (429, a fixed status, or a random 5xx), if any."""
    if fault.rate_limit:
        retry = fault.retry_after if fault.retry_after is not None else 1
        return error_response(429, "Rate limit reached for requests (simulated).",
                              headers={"retry-after": f"{retry:g}"})
    status = fault.status or 0
    if fault.error_rate and state.rng.random() < fault.error_rate:
        status = status or 500
    if status:
        return error_response(status, f"Simulated upstream error {status}.")
    return None


def auth_error(request: web.Request, state: FleetState) -> web.Response | None:
    key = state.settings.require_api_key
    if key is None or request.headers.get("Authorization") == f"Bearer {key}":
        return None
    if request.headers.get("x-api-key") == key:  # Anthropic's way of sending it
        return None
    return error_response(401, "Incorrect API key provided.")


BAD_JSON = object()  # what `loads` returns for a body that is not JSON


def loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return BAD_JSON
