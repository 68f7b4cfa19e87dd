"""The route handlers: one per front end (its context in, the chain, its answer out), and
the few routes beside the model calls."""

from __future__ import annotations

import itertools
import os
import secrets
import time
from collections.abc import Awaitable, Callable

import orjson
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from router.context import RequestContext
from router.errors import LanewayError
from router.frontends.base import Frontend
from router.http.body import read_body, read_json
from router.observe.ready import readiness
from router.runtime import Runtime
from router.stages.explain import explain as explain_request
from router.stages.supersede import guarded
from router.upstreams.scrub import scrub

_JSON = "application/json"


def request_id(request: Request) -> str:
    return _request_id(request.headers.get("x-request-id"))


def _request_id(rid: str | None) -> str:
    # Echo a caller's id only when it is short and plain: it lands in logs and headers.
    if rid and len(rid) <= 64 and rid.replace("-", "").replace("_", "").isalnum():
        return rid
    return f"{_ID_PREFIX}{next(_ID_SEQ):016x}"


def _new_id_source() -> None:
    """Request ids: 16 random hex chars per process, then a counter (as long as a uuid4's
    hex, ~0.3 µs instead of a getrandom call and a UUID object). The random prefix keeps
    ids unique across workers and replicas; a forked child draws its own."""
    global _ID_PREFIX, _ID_SEQ
    _ID_PREFIX = secrets.token_hex(8)
    _ID_SEQ = itertools.count()


_ID_PREFIX = ""
_ID_SEQ = itertools.count()
_new_id_source()
os.register_at_fork(after_in_child=_new_id_source)


def error_response(err: LanewayError, rid: str) -> Response:
    """An error outside the model routes (theirs are their front end's), OpenAI-shaped."""
    headers = {"x-request-id": rid, **err.headers}
    return Response(err.body(), status_code=err.status, media_type=_JSON, headers=headers)


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
        rid = _request_id(headers.get("x-request-id"))
        ctx: RequestContext | None = None
        try:
            tenant = rt.keys.tenant(frontend.credential(headers))
            await rt.limiter.admit(tenant)  # before reading the body: a refusal costs nothing
            body, size = await read_body(
                request, rt.config.raw.server.max_body_bytes, headers.get("content-length")
            )
            frontend.parse(body)
            scrub(body)  # before any stage reads it: only the config says where a call goes
            ctx = RequestContext(
                request_id=rid,
                endpoint=frontend.endpoint,
                body=body,
                headers=headers,
                tenant=tenant,
                started=started,
                frontend=frontend,
                stream=bool(body.get("stream")),
                body_bytes=size,
                requested_model=body["model"],
            )
            # Cancelled if the client leaves or a newer completion of its session arrives.
            return await guarded(request, ctx, rt.chain.handle(ctx), rt.sessions)
        except LanewayError as err:
            if ctx is not None:
                ctx.status = err.status
                rt.chain.record.run(ctx)
            else:  # refused before its lane was known (401, 413, 429, 400): counted all the same
                rt.metrics.requests.labels("none", "none", str(err.status), "bypass").inc()
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
        rt.keys.tenant(request.headers.get("authorization"))
    except LanewayError as err:
        return error_response(err, request_id(request))
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "laneway"}]
    data += [
        {"id": m.name, "object": "model", "created": 0, "owned_by": "laneway",
         "laneway": {"tier": m.tier.name.lower(), "lanes": sorted(m.lanes),
                     "context_window": m.context_window}}
        for m in rt.config.models
    ]
    return Response(orjson.dumps({"object": "list", "data": data}), media_type=_JSON)


async def explain(request: Request) -> Response:
    rt = _runtime(request)
    rid = request_id(request)
    try:
        tenant = rt.keys.tenant(request.headers.get("authorization"))
        payload = await read_json(request, rt.config.raw.server.max_body_bytes)
        result = explain_request(rt, payload, request.headers, tenant)
    except LanewayError as err:
        return error_response(err, rid)
    return Response(orjson.dumps(result), media_type=_JSON, headers={"x-request-id": rid})


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type=_JSON)


async def readyz(request: Request) -> Response:
    rt = getattr(request.app, "runtime", None)
    if rt is None:
        return Response(b'{"status":"starting"}', status_code=503, media_type=_JSON)
    return Response(orjson.dumps(readiness(rt)), media_type=_JSON)


async def metrics(request: Request) -> Response:
    rt = _runtime(request)
    return Response(rt.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
