"""POST /v1/embeddings: deterministic unit vectors (16 floats unless `dimensions` says)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fleet.answers import embedding
from fleet.errors import BAD_JSON, auth_error, error_response, fault_error, json_response, loads
from fleet.faults import parse_fault
from fleet.inputs import count_tokens
from fleet.state import STATE, FleetState


async def embeddings(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    raw = await request.read()
    body = loads(raw)
    model = body.get("model") if isinstance(body, dict) else None
    logged = None if body is BAD_JSON else body
    entry = state.begin(request, model if isinstance(model, str) else None, logged, len(raw),
                        False)
    resp = _embeddings(request, state, body)
    state.finish(entry, "done" if resp.status < 400 else "error", resp.status)
    return resp


def _embeddings(request: web.Request, state: FleetState, body: Any) -> web.Response:
    denied = auth_error(request, state)
    if denied is not None:
        return denied
    if not isinstance(body, dict):
        return error_response(400, "We could not parse the JSON body of your request.")
    model, texts = body.get("model"), body.get("input")
    if not isinstance(model, str) or not model:
        return error_response(400, "you must provide a model parameter", "model")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        return error_response(400, "input must be a string or a non-empty array", "input")
    header = request.headers.get("x-fleet-fault")
    try:
        fault = state.effective_fault(model, parse_fault(header) if header else None)
    except ValueError as exc:
        return error_response(400, f"x-fleet-fault: {exc}", "x-fleet-fault")
    failed = fault_error(fault, state)
    if failed is not None:
        return failed
    dims = body.get("dimensions", 16)
    if isinstance(dims, bool) or not isinstance(dims, int) or not 1 <= dims <= 4096:
        return error_response(400, "dimensions must be an integer in 1..4096", "dimensions")
    b64 = body.get("encoding_format") == "base64"
    data = []
    for i, item in enumerate(texts):
        text = item if isinstance(item, str) else orjson.dumps(item).decode()
        vector = embedding(model, text, dims, b64)
        data.append({"object": "embedding", "index": i, "embedding": vector})
    tokens = sum(count_tokens(t if isinstance(t, str) else str(t)) for t in texts)
    return json_response({"object": "list", "data": data, "model": model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
