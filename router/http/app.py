"""The app factory: routes, lifespan (one aiohttp session per worker), error rendering."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from policies import tokens
from router.config import Config, load
from router.errors import LanewayError, MethodNotAllowed, RouteNotFound
from router.frontends.registry import FRONTENDS
from router.frontends.shapes import ExplainRequest
from router.http import endpoints, feedback_routes, openapi
from router.http.front import Laneway, bug_response
from router.observe.logline import open_access_log
from router.observe.metrics import Metrics
from router.observe.ready import ready_line
from router.runtime import Runtime
from router.stages.record import describe
from router.upstreams import probe
from router.upstreams.openai import new_session

log = logging.getLogger("laneway")

def create_app(config: Config) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert isinstance(app, Laneway)
        session = new_session()
        app.runtime = Runtime.build(config, Metrics(), session)
        describe(app.runtime)
        await app.runtime.cache.start()  # bounded: laneway serves without Redis too
        if app.runtime.feedback is not None:
            app.runtime.feedback.core.start()
        # The tokenizer (~40 MB, ~0.3 s) only when a prompt may not fit its budget: loaded
        # in a thread on first need, upper bounds meanwhile (policies/tokens.py).
        tokens.defer()
        access_log = open_access_log(os.environ.get("LANEWAY_ACCESS_LOG", "1") != "0")
        # Everything built so far (modules, config, runtime) lives as long as the worker:
        # out of the collector's sight, so a full collection walks only what requests
        # left behind (cache entries) instead of every imported object (tens of ms).
        gc.freeze()
        for w in config.warnings:
            log.warning("config: %s", w)
        # Beside the request path: ejected models are probed, so they come back in seconds.
        probes = asyncio.create_task(probe.run_probes(lambda: app.runtime), name="probes")
        print(ready_line(app.runtime, os.environ.get("LANEWAY_ADDRESS")), file=sys.stderr,
              flush=True)

        loop = asyncio.get_running_loop()
        closing: set[asyncio.Task[None]] = set()  # old feedback cores closing after a reload

        def reload() -> None:
            # Requests in flight keep the runtime they started with; new ones get the new one.
            old = app.runtime
            assert old is not None
            try:
                new = load(old.config.source)
                rt = Runtime.build(new, old.metrics, session, previous=old)
                describe(rt)
            except Exception as exc:  # a bad edit must not take a serving proxy down
                log.error("reload failed, keeping the running config: %s", exc)
                return
            app.runtime = rt
            if rt.feedback is not None and old.feedback is not None \
                    and rt.feedback.core is not old.feedback.core:
                # Redis settings changed: a new feedback core; the old one's tasks stop.
                rt.feedback.core.start()
                task = loop.create_task(old.feedback.core.close())
                closing.add(task)
                task.add_done_callback(closing.discard)
            log.warning("reloaded %s (policy %s)", new.source, rt.policy.name)

        if config.source.endswith((".yaml", ".yml")):
            loop.add_signal_handler(signal.SIGHUP, reload)
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            await probe.stop(probes)
            await app.runtime.limiter.close()
            await app.runtime.cache.close()
            if app.runtime.feedback is not None:
                await app.runtime.feedback.core.close()
            app.runtime.pool.close()
            await session.close()
            if access_log is not None:
                access_log.close()

    app = Laneway(
        title="laneway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None,
        redirect_slashes=False,
        # laneway exports Prometheus metrics itself; FastAPI's own OpenTelemetry hooks
        # would otherwise ask the OpenTelemetry API whether they are wanted on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # The model routes are FastAPI routes (the route table, 405s, the OpenAPI document),
    # and the same handlers are dispatched straight from the exact path before FastAPI's
    # stack (router/http/front.py says why).
    app.frontends = FRONTENDS
    app.hot = {}
    for frontend in FRONTENDS:
        handler = endpoints.model_route(frontend)
        for path in frontend.paths:
            app.hot[path] = handler
            app.add_api_route(
                path, handler, methods=["POST"], summary=frontend.summary,
                openapi_extra=openapi.model_call(frontend.shape),
                responses=openapi.errors(400, 401, 404, 409, 413, 429, 502, 503, 504),
            )
    for prefix in ("/v1", ""):
        app.add_api_route(prefix + "/models", endpoints.models, methods=["GET"],
                          summary="Configured models and 'auto'", responses=openapi.errors(401))
    app.add_api_route("/laneway/explain", endpoints.explain, methods=["POST"],
                      summary="The routing decision, no upstream call",
                      openapi_extra=openapi.model_call(ExplainRequest),
                      responses=openapi.errors(400, 401, 404))
    for prefix in ("/v1", ""):
        app.add_api_route(prefix + "/events", feedback_routes.events, methods=["POST"],
                          summary="Completion feedback (Tabby's view / select / dismiss)",
                          responses=openapi.errors(400, 401))
    app.add_api_route("/laneway/experiments", feedback_routes.experiments, methods=["GET"],
                      summary="Experiments: arms, counts, intervals, decision",
                      responses=openapi.errors(401))
    app.add_api_route("/healthz", endpoints.healthz, methods=["GET"], summary="Process up")
    app.add_api_route("/readyz", endpoints.readyz, methods=["GET"],
                      summary="Config loaded; upstream and Redis state")
    app.add_api_route("/metrics", endpoints.metrics, methods=["GET"],
                      summary="Prometheus metrics")
    app.add_api_route("/openapi.json", openapi.serve, methods=["GET"], summary="This document",
                      responses=openapi.errors(401))

    async def on_laneway_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LanewayError)
        return endpoints.error_response(exc, endpoints.request_id(request))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        err: LanewayError = (
            MethodNotAllowed(f"Method {request.method} is not allowed on this path.")
            if exc.status_code == 405
            else RouteNotFound(f"No route for {request.method} {request.url.path}.")
        )
        return endpoints.error_response(err, endpoints.request_id(request))

    async def on_bug(request: Request, exc: Exception) -> Response:
        return bug_response(request)  # Starlette logs the traceback

    app.add_exception_handler(LanewayError, on_laneway_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_bug)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` workers: each worker loads the config itself."""
    return create_app(load(os.environ["LANEWAY_CONFIG"]))
