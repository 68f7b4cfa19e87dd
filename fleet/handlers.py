"""HTTP handlers of the simulated OpenAI API: generation (paced, with faults) and embeddings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from fleet import shapes
from fleet.answers import embedding
from fleet.faults import FaultSpec, parse_fault
from fleet.inputs import BadRequest, Job, check_profile, count_tokens
from fleet.profiles import jittered_timing
from fleet.state import STATE, Entry, FleetState

# How often a waiting handler checks whether its client went away. aiohttp also cancels
# the handler on disconnect when handler_cancellation=True; polling covers apps that were
# started without it (e.g. a test's own AppRunner).
_POLL_S = 0.05
_JSON = {"Content-Type": "application/json"}
_SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_ERROR_TYPES = {
    400: ("invalid_request_error", None), 401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None), 404: ("not_found_error", None),
    413: ("invalid_request_error", "request_too_large"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}


class ClientGone(Exception):
    """The peer closed the connection while the handler was still working."""


def json_response(
    obj: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, headers={**_JSON, **(headers or {})})


def error_body(status: int, message: str, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    kind, default_code = _ERROR_TYPES.get(status, ("server_error", "server_error"))
    return {"error": {"message": message, "type": kind, "param": param,
                      "code": code or default_code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return json_response(error_body(status, message, param, code), status, headers)


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def pause(request: web.Request, seconds: float) -> None:
    """Sleep, but raise ClientGone as soon as the client disconnects."""
    if seconds <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if _gone(request):
            raise ClientGone
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(remaining, _POLL_S))


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


def _auth_error(request: web.Request, state: FleetState) -> web.Response | None:
    key = state.settings.require_api_key
    if key is None or request.headers.get("Authorization") == f"Bearer {key}":
        return None
    return error_response(401, "Incorrect API key provided.")


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _BAD_JSON


_BAD_JSON = object()


@dataclass(frozen=True, slots=True)
class Api:
    """One generation API: how to read its body and how to write its answers."""

    parse: Callable[[Any], Job]
    stream_of: Callable[..., Iterator[shapes.Frame]]
    body_of: Callable[..., dict[str, Any]]
    id_prefix: str


def generation_handler(api: Api) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        raw = await request.read()
        body = _loads(raw)
        model = body.get("model") if isinstance(body, dict) else None
        stream = isinstance(body, dict) and body.get("stream") is True
        logged = None if body is _BAD_JSON else body
        entry = state.begin(request, model if isinstance(model, str) else None, logged, stream)
        try:
            resp = await _generate(request, state, entry, api, raw, body)
        except (ClientGone, ConnectionResetError):
            state.finish(entry, "cancelled", None)
            return web.Response(status=499)  # nobody reads it; aiohttp drops it quietly
        except asyncio.CancelledError:
            state.finish(entry, "cancelled", None)
            raise
        except BaseException:
            state.finish(entry, "error", 500)
            raise
        state.finish(entry, "done" if resp.status < 400 else "error", resp.status)
        return resp

    return handle


async def _generate(
    request: web.Request, state: FleetState, entry: Entry, api: Api, raw: bytes, body: Any
) -> web.StreamResponse:
    denied = _auth_error(request, state)
    if denied is not None:
        return denied
    if body is _BAD_JSON:
        return error_response(400, "We could not parse the JSON body of your request.")
    settings = state.settings
    try:
        job = state.job_for(api.id_prefix, raw, body, api.parse)
        profile = settings.profile_for(job.model)
        check_profile(job, profile)
        header = request.headers.get("x-fleet-fault")
        fault = state.effective_fault(job.model, parse_fault(header) if header else None)
    except BadRequest as exc:
        return error_response(400, exc.message, exc.param, exc.code)
    except ValueError as exc:  # a malformed x-fleet-fault header
        return error_response(400, f"x-fleet-fault: {exc}", "x-fleet-fault")
    if not fault.is_empty():
        entry["fault"] = fault.as_dict()
    entry["fim"] = job.fim_family

    if fault.hang:
        while True:  # until the client goes away (ClientGone) or the server stops
            await pause(request, 3600)
    failed = fault_error(fault, state)
    if failed is not None:
        return failed

    ttft, per_token = (0.0, 0.0) if settings.zero_latency else jittered_timing(profile, job.seed)
    if fault.ttft_ms is not None:
        ttft = fault.ttft_ms / 1000.0
    if fault.tokens_per_s:
        per_token = 1.0 / fault.tokens_per_s
    chunk_delay = fault.chunk_delay_ms / 1000.0 if fault.chunk_delay_ms is not None else None
    if chunk_delay is None and fault.slow_stream:
        chunk_delay = 0.25
    tokens_per_s = fault.tokens_per_s or profile.tokens_per_s
    # Few tokens per chunk, at most ~100 chunks/s: realistic without flooding the loop.
    per_chunk = max(1, round(tokens_per_s / 100))
    rid = f"{api.id_prefix}{entry['id'].removeprefix('req_')}{job.seed & 0xFFFFFFFF:08x}"
    created = int(time.time())
    if not job.stream:
        gen_time = job.completion_tokens * per_token
        if chunk_delay is not None:
            n_chunks = sum(
                len(shapes.group_pieces(a, per_chunk, fault.chunks)) for a in job.answers
            )
            gen_time = n_chunks * chunk_delay
        await pause(request, ttft + gen_time)
        payload = orjson.dumps(api.body_of(job, rid=rid, created=created, **_extra(job, body)))
        if fault.cut_stream:
            return await _cut_body(request, state, entry, payload)
        if fault.stream_error:  # no stream to break: fail the plain answer instead
            return error_response(500, "Simulated error while generating.")
        return web.Response(body=payload, headers=_JSON)
    groups = [shapes.group_pieces(a, per_chunk, fault.chunks) for a in job.answers]
    frames = api.stream_of(job, groups=groups, rid=rid, created=created, **_extra(job, body))
    return await _stream(request, state, entry, frames, fault, ttft, per_token, chunk_delay)


def _extra(job: Job, body: Any) -> dict[str, Any]:
    return {"body": body} if job.kind == "responses" else {}


async def _cut_body(request: web.Request, state: FleetState, entry: Entry,
                    payload: bytes) -> web.StreamResponse:
    """A non-streamed answer whose connection dies half-way through the body."""
    resp = web.StreamResponse(headers=_JSON)
    resp.content_length = len(payload)
    await resp.prepare(request)
    await resp.write(payload[: len(payload) // 2])
    state.finish(entry, "error", 200)
    _close(request, resp)
    return resp


def _close(request: web.Request, resp: web.StreamResponse) -> None:
    resp.force_close()
    if request.transport is not None:
        request.transport.close()


async def _stream(
    request: web.Request, state: FleetState, entry: Entry, frames: Iterator[shapes.Frame],
    fault: FaultSpec, ttft: float, per_token: float, chunk_delay: float | None,
) -> web.StreamResponse:
    all_frames = list(frames)
    content_frames = sum(1 for _, tokens in all_frames if tokens)
    cut_after: int | None = None
    if fault.cut_stream or fault.stream_error:
        cut_after = fault.cut_after if fault.cut_after is not None else content_frames // 2
    resp = web.StreamResponse(headers=_SSE)
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    due = loop.time() + ttft  # absolute schedule: sleeping never accumulates drift
    sent_content = 0
    buffer: list[bytes] = []
    for data, tokens in all_frames:
        if tokens and cut_after is not None and sent_content >= cut_after:
            break
        if tokens and sent_content:
            due += chunk_delay if chunk_delay is not None else tokens * per_token
        wait = due - loop.time()
        if wait > 0:
            if buffer:  # flush what is due before waiting for the next piece
                await resp.write(b"".join(buffer))
                buffer.clear()
            await pause(request, wait)
        buffer.append(data)
        sent_content += 1 if tokens else 0
    if buffer:
        await resp.write(b"".join(buffer))
    if cut_after is None:
        await resp.write_eof()
        return resp
    state.finish(entry, "error", 200)
    if fault.stream_error:  # an error event, then a clean end without [DONE]
        await resp.write(shapes.sse(error_body(500, "Simulated error in the middle of a stream.")))
        await resp.write_eof()
    else:
        _close(request, resp)
    return resp


async def embeddings(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    body = _loads(await request.read())
    model = body.get("model") if isinstance(body, dict) else None
    logged = None if body is _BAD_JSON else body
    entry = state.begin(request, model if isinstance(model, str) else None, logged, False)
    resp = _embeddings(request, state, body)
    state.finish(entry, "done" if resp.status < 400 else "error", resp.status)
    return resp


def _embeddings(request: web.Request, state: FleetState, body: Any) -> web.Response:
    denied = _auth_error(request, state)
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
