"""laneway's errors in Anthropic's shape: {"type": "error", "error": {"type", "message"}}."""

from __future__ import annotations

import orjson

from router.errors import LanewayError
from router.translate.messages_stream import anthropic_error_event

# Anthropic names its error types by status; laneway keeps its own status codes.
_BY_STATUS = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
    403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
    413: "request_too_large", 429: "rate_limit_error", 499: "invalid_request_error",
    500: "api_error", 502: "api_error", 503: "overloaded_error", 504: "api_error",
    529: "overloaded_error",
}


def error_type(status: int) -> str:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return "invalid_request_error" if 400 <= status < 500 else "api_error"


def anthropic_body(err: LanewayError) -> bytes:
    return orjson.dumps({"type": "error", "error": {"type": error_type(err.status),
                                                    "message": err.message}})


def anthropic_sse(err: LanewayError) -> bytes:
    """The last event of a Messages stream that failed after it started."""
    return anthropic_error_event(err.message, error_type(err.status))
