"""The thinnest honest proxy: FastAPI + one pooled aiohttp session, body in, body out.

    UPSTREAM=http://127.0.0.1:9100 python -m loadtests.bench.bare_passthrough PORT

uvicorn with uvloop and httptools, one worker, no access log. It forwards the request body
unparsed to the same path on the upstream and returns the upstream's body and status: the
floor any Python gateway built on these parts can reach.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9100")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        app.state.session = session
        yield


app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)


async def forward(request: Request) -> Response:
    session: aiohttp.ClientSession = request.app.state.session
    body = await request.body()
    async with session.post(
        UPSTREAM + request.url.path, data=body, headers={"content-type": "application/json"}
    ) as upstream:
        data = await upstream.read()
        return Response(
            data, status_code=upstream.status,
            media_type=upstream.headers.get("content-type", "application/json"),
        )


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


for _path in ("/v1/chat/completions", "/v1/completions", "/v1/messages"):
    app.router.add_route(_path, forward, methods=["POST"])
app.router.add_route("/healthz", healthz, methods=["GET"])


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), workers=1, loop="uvloop",
        http="httptools", access_log=False, log_level="warning",
    )
