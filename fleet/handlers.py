"""Handlers of the three generation APIs: validation, faults, pacing and streaming."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from fleet import shapes
from fleet.errors import (
    BAD_JSON,
    JSON_HEADERS,
    auth_error,
    error_body,
    error_response,
    fault_error,
    loads,
)
from fleet.faults import FaultSpec, parse_fault
from fleet.inputs import BadRequest, Job, check_profile
from fleet.profiles import ModelProfile, jittered_timing
from fleet.state import STATE, Entry, FleetState

# How often a waiting handler checks whether its client went away. aiohttp also cancels
# the handler on disconnect when handler_cancellation=True; polling covers apps that were
# started without it (e.g. a test's own AppRunner).
_POLL_S = 0.05
_SSE = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


class ClientGone(Exception):
    """The peer closed the connection while the handler was still working."""


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


@dataclass(frozen=True, slots=True)
class Api:
    """One generation API: how to read its body and how to write its answers."""

    parse: Callable[[Any], Job]
    stream_of: Callable[..., Iterator[shapes.Frame]]
    body_of: Callable[..., dict[str, Any]]
    id_prefix: str
    # Its error answers and mid-stream error event; OpenAI's shapes unless the API has its own.
    error_of: Callable[[web.Response], web.Response] | None = None
    stream_error_of: Callable[[dict[str, Any]], bytes] = shapes.sse


def generation_handler(api: Api) -> Callable[[web.Request], Any]:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        raw = await request.read()
        body = loads(raw)
        model = body.get("model") if isinstance(body, dict) else None
        stream = isinstance(body, dict) and body.get("stream") is True
        logged = None if body is BAD_JSON else body
        entry = state.begin(request, model if isinstance(model, str) else None, logged, len(raw),
                            stream)
        try:
            resp = await _generate(request, state, entry, api, raw, body)
            if api.error_of is not None and resp.status >= 400:
                assert isinstance(resp, web.Response)
                resp = api.error_of(resp)
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
    denied = auth_error(request, state)
    if denied is not None:
        return denied
    if body is BAD_JSON:
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

    pace = _pacing(profile, job, fault, settings.zero_latency)
    rid = f"{api.id_prefix}{entry['id'].removeprefix('req_')}{job.seed & 0xFFFFFFFF:08x}"
    created = int(time.time())
    if not job.stream:
        gen_time = job.completion_tokens * pace.per_token
        if pace.chunk_delay is not None:
            chunks = sum(len(shapes.group_pieces(a, pace.per_chunk, fault.chunks))
                         for a in job.answers)
            gen_time = chunks * pace.chunk_delay
        await pause(request, pace.ttft + gen_time)
        answer = api.body_of(job, rid=rid, created=created, **_extra(job, body))
        if fault.answer_bytes:
            answer["padding"] = "x" * fault.answer_bytes
        payload = orjson.dumps(answer)
        if fault.cut_stream:
            return await _cut_body(request, state, entry, payload)
        if fault.stream_error:  # no stream to break: fail the plain answer instead
            return error_response(500, "Simulated error while generating.")
        return web.Response(body=payload, headers=JSON_HEADERS)
    groups = [shapes.group_pieces(a, pace.per_chunk, fault.chunks) for a in job.answers]
    frames = list(api.stream_of(job, groups=groups, rid=rid, created=created, **_extra(job, body)))
    if fault.answer_bytes:
        frames.insert(1, (b": " + b"x" * fault.answer_bytes + b"\n\n", 0))
    return await _stream(request, state, entry, frames, fault, pace, api.stream_error_of)


@dataclass(slots=True)  # not frozen: built per request, and frozen __init__ is slower
class Pacing:
    ttft: float  # seconds before the first chunk
    per_token: float  # seconds per generated token after that
    chunk_delay: float | None  # a fixed pause between chunks instead (faults)
    per_chunk: int  # tokens per chunk


def _pacing(profile: ModelProfile, job: Job, fault: FaultSpec, zero_latency: bool) -> Pacing:
    ttft, per_token = (0.0, 0.0) if zero_latency else jittered_timing(profile, job.seed)
    if fault.ttft_ms is not None:
        ttft = fault.ttft_ms / 1000.0
    if fault.tokens_per_s:
        per_token = 1.0 / fault.tokens_per_s
    chunk_delay = fault.chunk_delay_ms / 1000.0 if fault.chunk_delay_ms is not None else None
    if chunk_delay is None and fault.slow_stream:
        chunk_delay = 0.25
    # A few tokens per chunk, at most ~100 chunks/s: realistic without flooding the loop.
    per_chunk = max(1, round((fault.tokens_per_s or profile.tokens_per_s) / 100))
    return Pacing(ttft, per_token, chunk_delay, per_chunk)


def _extra(job: Job, body: Any) -> dict[str, Any]:
    return {"body": body} if job.kind in ("responses", "messages") else {}


async def _cut_body(request: web.Request, state: FleetState, entry: Entry,
                    payload: bytes) -> web.StreamResponse:
    """A non-streamed answer whose connection dies half-way through the body."""
    resp = web.StreamResponse(headers=JSON_HEADERS)
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
    request: web.Request, state: FleetState, entry: Entry, frames: list[shapes.Frame],
    fault: FaultSpec, pace: Pacing, error_event: Callable[[dict[str, Any]], bytes] = shapes.sse,
) -> web.StreamResponse:
    cut_after: int | None = None
    if fault.cut_stream or fault.stream_error:
        content_frames = sum(1 for _, tokens in frames if tokens)
        wanted = fault.cut_after if fault.cut_after is not None else content_frames // 2
        cut_after = min(wanted, content_frames)  # never past the last content chunk
    if fault.crlf:
        frames = [(data.replace(b"\n", b"\r\n"), tokens) for data, tokens in frames]
    resp = web.StreamResponse(headers=_SSE)
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    due = loop.time() + pace.ttft  # absolute schedule: sleeping never accumulates drift
    sent_content = 0
    buffer: list[bytes] = []
    for data, tokens in frames:
        # Cut before the next content chunk, or before the closing events once some content
        # went out (the preamble, such as the role chunk, is always sent).
        if cut_after is not None and sent_content >= cut_after and (tokens or sent_content):
            if fault.cut_mid_event and not fault.stream_error:
                buffer.append(data[: len(data) // 2])  # the cut falls inside this event
            break
        if tokens and sent_content:
            due += pace.chunk_delay if pace.chunk_delay is not None else tokens * pace.per_token
        wait = due - loop.time()
        if wait > 0:
            if buffer:  # flush what is due before waiting for the next piece
                await resp.write(b"".join(buffer))
                buffer.clear()
            await pause(request, wait)
        buffer.append(data)
        sent_content += 1 if tokens else 0
    tail = b"".join(buffer)
    if cut_after is None:
        # One write for the rest and the end: a zero-latency stream costs a single syscall.
        await resp.write_eof(tail)
        return resp
    if tail:
        await resp.write(tail)
    state.finish(entry, "error", 200)
    if fault.stream_error:  # an error event, then a clean end without [DONE]
        error = error_body(500, "Simulated error in the middle of a stream.")
        await resp.write_eof(error_event(error))
    else:
        _close(request, resp)
    return resp


