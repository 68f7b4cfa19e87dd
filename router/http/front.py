"""The front door: the model routes go straight to their handlers, everything else through
FastAPI's full stack.

Every completion pays for each layer it passes: FastAPI's middleware stack (server errors,
its OpenTelemetry hooks, exception handlers, an exit stack for uploads, route matching)
is six coroutine frames that every await of the request resumes through, and none of it
does anything for a model call: `_model_call` turns every LanewayError into its answer
itself, and a bug is answered here the way the stack would (logged, OpenAI-shaped 500).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from router.errors import LanewayError

if TYPE_CHECKING:
    from router.frontends.base import Frontend
    from router.runtime import Runtime

log = logging.getLogger("laneway")

Handler = Callable[[Request], Awaitable[Response]]


class Laneway(FastAPI):
    """FastAPI, with `hot` POST routes (exact paths) dispatched before its stack, and the
    worker's Runtime as a plain attribute (set by the lifespan, replaced by a reload)."""

    hot: dict[str, Handler]
    frontends: tuple[Frontend, ...] = ()
    runtime: Runtime | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.hot.get(scope["path"])
            if handler is not None:
                scope["app"] = self  # request.app, as Starlette would set it
                request = Request(scope, receive, send)
                try:
                    response = await handler(request)
                except Exception:
                    log.exception("laneway failed on %s %s", scope["method"], scope["path"])
                    response = bug_response(request)
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def bug_response(request: Request) -> Response:
    # The client gets the OpenAI shape and no details; the traceback is in the log.
    from router.http.endpoints import error_response, request_id

    err = LanewayError("laneway failed on this request; it has been logged.")
    return error_response(err, request_id(request))
