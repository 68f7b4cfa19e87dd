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
from router.frontends.messages import count_tokens
from router.frontends.registry import FRONTENDS
from router.frontends.shapes import ExplainRequest
from router.http import endpoints, feedback_routes, openapi, spend
from router.http.front import Laneway, bug_response
from router.observe import logline
from router.observe.logline import open_access_log
from router.observe.metrics import Metrics
from router.observe.ready import ready_line
from router.runtime import Runtime
from router.stages.record import describe
from router.upstreams import probe
from router.upstreams.openai import new_session
from router.watch import watch

log = logging.getLogger("laneway")

def create_app(config: Config) -> FastAPI:
    # Set before anything runs, not when a reload first needs litellm: the environment is
    # the process's, read by every thread, and litellm would fetch its cost map without it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
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

        loop = asyncio.get_running_loop()
        watcher = None
        if config.source.endswith((".yaml", ".yml")):
            loop.add_signal_handler(signal.SIGHUP, reload)
            watcher = loop.create_task(watch(config.source, reload))  # keys change live
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            if watcher is not None:
                watcher.cancel()
            await probe.stop(probes)
            await app.runtime.limiter.close()
            if app.runtime.ledger is not None:
                await app.runtime.ledger.close()
            await app.runtime.cache.close()
            if app.runtime.feedback is not None:
                await app.runtime.feedback.core.close()
            if app.runtime.redis is not None:
                await app.runtime.redis.close()  # after its users: they share it
            app.runtime.process.pool.close()
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
        app.add_api_route(prefix + "/messages/count_tokens", count_tokens, methods=["POST"],
                          summary="Input tokens of a Messages request, no upstream call",
                          responses=openapi.errors(400, 401, 413))
        app.add_api_route(prefix + "/models", endpoints.models, methods=["GET"],
                          summary="Configured models and 'auto'", responses=openapi.errors(401))
    app.add_api_route("/laneway/explain", endpoints.explain, methods=["POST"],
                      summary="The routing decision, no upstream call",
                      openapi_extra=openapi.model_call(ExplainRequest),
                      responses=openapi.errors(400, 401, 404))
    app.add_api_route("/laneway/spend", spend.spend, methods=["GET"],
                      summary="Spend this period: own team, or every team for an admin key",
                      responses=openapi.errors(401, 503))
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
        return _refused(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        err: LanewayError = (
            MethodNotAllowed(f"Method {request.method} is not allowed on this path.")
            if exc.status_code == 405
            else RouteNotFound(f"No route for {request.method} {request.url.path}.")
        )
        return _refused(request, err)

    async def on_bug(request: Request, exc: Exception) -> Response:
        return bug_response(request)  # Starlette logs the traceback

    app.add_exception_handler(LanewayError, on_laneway_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(Exception, on_bug)
    return app


def _refused(request: Request, err: LanewayError) -> Response:
    """An error outside the model routes (unknown path, wrong method, ...): answered and
    logged with its reason, like every refusal."""
    rid = endpoints.request_id(request)
    logline.refusal(rid, request.url.path, None, err.status,
                    logline.reason_of(err.code, f"{request.method} {err.type}"), 0.0)
    return endpoints.error_response(err, rid)


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` workers: each worker loads the config itself."""
    return create_app(load(os.environ["LANEWAY_CONFIG"]))
