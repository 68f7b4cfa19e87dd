"""The route handlers: one per front end (its context in, the chain, its answer out), and
the few routes beside the model calls."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from router.context import RequestContext
from router.errors import LanewayError
from router.frontends.base import Frontend
from router.frontends.openai import CHAT, COMPLETIONS
from router.http.body import read_body, read_json
from router.http.prompt_on_chat import as_chat, is_prompt_on_chat
from router.http.request_ids import RequestIds
from router.observe import logline
from router.observe.ready import readiness
from router.runtime import Runtime
from router.stages.explain import explain as explain_request
from router.stages.supersede import guarded
from router.upstreams.scrub import scrub

_JSON = "application/json"


def request_id(request: Request) -> str:
    rt = request.scope["app"].runtime
    ids = rt.process.ids if rt is not None else RequestIds()  # not started: no worker's yet
    return ids(request.headers.get("x-request-id"))  # type: ignore[no-any-return]


def error_response(err: LanewayError, rid: str) -> Response:
    """An error outside the model routes (theirs are their front end's), OpenAI-shaped."""
    headers = {"x-request-id": rid, **err.headers}
    return Response(err.body(), status_code=err.status, media_type=_JSON, headers=headers)


def refused(err: LanewayError, rid: str, where: str, tenant: str | None = None,
            started: float | None = None) -> Response:
    """A refusal outside the model routes: answered, and logged with its reason."""
    took = 0.0 if started is None else time.perf_counter() - started
    logline.refusal(rid, where, tenant, err.status, logline.reason_of(err.code, err.message),
                    took)
    return error_response(err, rid)


def plain_headers(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict (names are lower-case in ASGI; the first of
    repeated headers wins, as with Starlette's `Headers.get`). Starlette's lookups scan the
    raw list and raise KeyError on a miss; a request reads a dozen headers, most absent."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(request.scope["headers"])}


def _runtime(request: Request) -> Runtime:
    rt = request.scope["app"].runtime  # the Laneway app's, set by its lifespan
    assert rt is not None
    return rt  # type: ignore[no-any-return]


def model_route(frontend: Frontend) -> Callable[[Request], Awaitable[Response]]:
    """The handler of one front end's routes: the context in, the chain, the answer out.
    A closure rather than a wrapper calling a shared coroutine: every await of the request
    resumes through each frame on its way."""

    async def model_call(request: Request) -> Response:
        started = time.perf_counter()
        rt = _runtime(request)
        headers = plain_headers(request)
        rid = rt.process.ids(headers.get("x-request-id"))
        ctx: RequestContext | None = None
        tenant: str | None = None
        try:
            tenant = rt.keys.tenant(frontend.credential(headers))
            await rt.limiter.admit(tenant)  # before reading the body: a refusal costs nothing
            body, size = await read_body(
                request, rt.config.raw.server.max_body_bytes, headers.get("content-length")
            )
            served_by = frontend
            if frontend is CHAT and is_prompt_on_chat(body):
                served_by = COMPLETIONS  # the completion it is; answered in the chat shape
            served_by.parse(body)
            # Before any stage reads it: only what the upstream API defines goes on.
            scrub(body, served_by.endpoint, rt.config.extra_fields)
            ctx = RequestContext(
                request_id=rid,
                endpoint=served_by.endpoint,
                body=body,
                headers=headers,
                tenant=tenant,
                started=started,
                frontend=served_by,
                stream=bool(body.get("stream")),
                body_bytes=size,
                requested_model=body["model"],
            )
            # Cancelled if the client leaves or a newer completion of its session arrives.
            answer = await guarded(request, ctx, rt.chain.handle(ctx), rt.process.sessions)
            return answer if served_by is frontend else as_chat(answer)
        except LanewayError as err:
            if ctx is not None:
                ctx.status = err.status
                ctx.error_reason = ctx.error_reason or logline.reason_of(err.code, err.message)
                rt.chain.record.run(ctx)
            else:  # refused before its lane was known (401, 413, 429, 400): counted all the same
                rt.metrics.requests.labels("none", "none", str(err.status), "bypass").inc()
                logline.refusal(rid, frontend.api, tenant, err.status,
                                logline.reason_of(err.code, err.message),
                                time.perf_counter() - started)
            return frontend.error(err, rid, ctx)
        except Exception:
            if ctx is not None:  # a bug: still close the request's books, then let it surface
                ctx.status, ctx.error_reason = 500, "internal"
                rt.chain.record.run(ctx)
            raise

    model_call.__qualname__ = model_call.__name__ = frontend.api
    return model_call


async def models(request: Request) -> Response:
    rt = _runtime(request)
    try:
        tenant = rt.keys.tenant(request.headers.get("authorization"))
    except LanewayError as err:
        return refused(err, request_id(request), "models")
    team = rt.config.teams.get(tenant)  # a team sees only the models it may use
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "laneway"}]
    data += [
        {"id": m.name, "object": "model", "created": 0, "owned_by": "laneway",
         "laneway": {"tier": m.tier.name.lower(), "lanes": sorted(m.lanes),
                     "context_window": m.context_window}}
        for m in rt.config.models if team is None or team.may_use(m.name)
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type=_JSON)


async def explain(request: Request) -> Response:
    started = time.perf_counter()
    rt = _runtime(request)
    rid = request_id(request)
    tenant: str | None = None
    try:
        tenant = rt.keys.tenant(request.headers.get("authorization"))
        await rt.limiter.admit(tenant)  # planning costs like a request's: limited like one
        payload = await read_json(request, rt.config.raw.server.max_body_bytes)
        result = explain_request(rt, payload, request.headers, tenant)
    except LanewayError as err:
        return refused(err, rid, "explain", tenant, started)
    return Response(orjson.dumps(result), media_type=_JSON, headers={"x-request-id": rid})


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=_JSON)


async def readyz(request: Request) -> Response:
    rt = getattr(request.app, "runtime", None)
    if rt is None:
        return Response(b'{"status":"starting"}', status_code=503, media_type=_JSON,
                        headers={"retry-after": "1"})
    return Response(orjson.dumps(readiness(rt)), media_type=_JSON)


async def metrics(request: Request) -> Response:
    rt = _runtime(request)
    return Response(rt.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
