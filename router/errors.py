"""One exception tree for everything a client can be told, rendered in one place.

Every error leaves laneway in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.
Foreign errors (aiohttp, litellm, pydantic) are translated where they enter.
"""

from __future__ import annotations

from typing import Any

import orjson


class LanewayError(Exception):
    status: int = 500
    type: str = "server_error"
    default_code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def body(self) -> bytes:
        return orjson.dumps(self.payload())

    def sse_event(self) -> bytes:
        """The last event of a stream that failed after it started (no [DONE] follows)."""
        return b"data: " + self.body() + b"\n\n"


class InvalidRequest(LanewayError):
    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class ContextLengthExceeded(InvalidRequest):
    default_code = "context_length_exceeded"


class AuthenticationFailed(LanewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(LanewayError):
    """The key is valid but its team may not use what it asked for (a model)."""

    status = 403
    type = "permission_error"
    default_code = "model_not_allowed"


class ModelNotFound(LanewayError):
    status = 404
    type = "invalid_request_error"
    default_code = "model_not_found"


class RouteNotFound(LanewayError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class MethodNotAllowed(LanewayError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"


class RequestTooLarge(LanewayError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class RateLimited(LanewayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"


class InsufficientQuota(LanewayError):
    """The team has spent its budget for the period; retry-after says when it resets."""

    status = 429
    type = "insufficient_quota"
    default_code = "insufficient_quota"


class UpstreamRejected(LanewayError):
    """The model refused the request itself (a 4xx): its status and message pass through."""

    type = "invalid_request_error"
    default_code = "upstream_rejected"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class UpstreamError(LanewayError):
    status = 502
    type = "upstream_error"
    default_code = "upstream_error"


class NoHealthyModel(LanewayError):
    status = 503
    type = "service_unavailable_error"
    default_code = "no_healthy_model"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        # Never without retry-after: clients retry a bare 503 at once, over and over.
        super().__init__(message, headers={"retry-after": "1"} | (headers or {}))


class ServiceUnavailable(LanewayError):
    """Something laneway needs besides the models (Redis, for a budget) cannot answer."""

    status = 503
    type = "service_unavailable_error"
    default_code = "service_unavailable"


class UpstreamTimeout(LanewayError):
    status = 504
    type = "timeout_error"
    default_code = "upstream_timeout"
