"""The control API under /fleet/: what tests use to inspect and steer the fleet."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from fleet.errors import error_response, json_response
from fleet.faults import fault_from_mapping
from fleet.profiles import profile_as_dict
from fleet.state import STATE


async def list_requests(request: web.Request) -> web.Response:
    """The request log, oldest first; filters: model, state, path.

    `wait=S` (with `min=N`, default 1) holds the answer up to S seconds until at least N
    entries match, so tests can wait for e.g. a `cancelled` request without sleeping.
    """
    state = request.app[STATE]
    query = request.query
    try:
        wait = min(float(query.get("wait", "0")), 30.0)
        at_least = int(query.get("min", "1"))
    except ValueError:
        return error_response(400, "wait must be a number and min an integer", "wait")
    if wait > 0:
        await state.wait_until(lambda: len(state.entries(query)) >= at_least, wait)
    found = state.entries(query)
    return json_response({"requests": found, "count": len(found)})


async def reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return json_response({"ok": True})


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


async def set_faults(request: web.Request) -> web.Response:
    """{"model": "name" or "*", <fault keys as in x-fleet-fault>}; merges into that model."""
    body = await _json_object(request)
    if body is None or not isinstance(body.get("model"), str):
        return error_response(400, 'expected {"model": "...", <fault keys>}', "model")
    try:
        spec = fault_from_mapping(body)
    except ValueError as exc:
        return error_response(400, str(exc))
    state = request.app[STATE]
    state.set_fault(body["model"], spec)
    return json_response({"ok": True, "faults": state.runtime_faults()})


async def clear_faults(request: web.Request) -> web.Response:
    """Without ?model= every runtime fault goes; config-file faults stay."""
    state = request.app[STATE]
    state.clear_faults(request.query.get("model"))
    return json_response({"ok": True, "faults": state.runtime_faults()})


async def get_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    configured = {m: s.as_dict() for m, s in state.settings.faults.items()}
    return json_response({"runtime": state.runtime_faults(), "config": configured})


async def stats(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].stats())


async def profiles(request: web.Request) -> web.Response:
    settings = request.app[STATE].settings
    return json_response({
        "profiles": [profile_as_dict(p) for p in settings.profiles.values()],
        "default": profile_as_dict(settings.default_profile),
        "zero_latency": settings.zero_latency,
    })


def add_routes(app: web.Application) -> None:
    app.router.add_get("/fleet/requests", list_requests)
    app.router.add_post("/fleet/reset", reset)
    app.router.add_get("/fleet/faults", get_faults)
    app.router.add_post("/fleet/faults", set_faults)
    app.router.add_delete("/fleet/faults", clear_faults)
    app.router.add_get("/fleet/stats", stats)
    app.router.add_get("/fleet/profiles", profiles)
