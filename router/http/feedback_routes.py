"""`POST /v1/events` (Tabby's event shape) and `GET /laneway/experiments`.

An event is checked, answered at once (`{}`) and queued: whether its id is known, and
whose answer it names, is settled by the feedback store off the client's path, so an
unknown id or another tenant's answer gets exactly the same 200 and changes nothing.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cache.feedback import ACCEPTED, DISMISSED, SHOWN
from router.errors import InvalidRequest, LanewayError
from router.http.body import read_json
from router.http.endpoints import _runtime, error_response, request_id

_JSON = "application/json"
KINDS = {"view": SHOWN, "select": ACCEPTED, "dismiss": DISMISSED}
MAX_ID = 200  # laneway's ids are ~30 characters; anything longer names nothing


async def events(request: Request) -> Response:
    rt = _runtime(request)
    rid = request_id(request)
    try:
        tenant = rt.keys.tenant(request.headers.get("authorization"))
        body = await read_json(request, rt.config.raw.server.max_body_bytes)
        kind = KINDS.get(body.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise InvalidRequest("'type' must be one of: view, select, dismiss.", param="type")
        cid = body.get("completion_id")
        if not isinstance(cid, str) or not cid:
            raise InvalidRequest("'completion_id' must be the answer's id (a string).",
                                 param="completion_id")
        index = body.get("choice_index", 0)
        if not isinstance(index, int) or isinstance(index, bool):
            raise InvalidRequest("'choice_index' must be an integer.", param="choice_index")
    except LanewayError as err:
        return error_response(err, rid)
    if rt.feedback is not None and len(cid) <= MAX_ID and index == 0:
        rt.feedback.core.event(cid, tenant, kind, "event")
    return Response(b"{}", media_type=_JSON, headers={"x-request-id": rid})


async def experiments(request: Request) -> Response:
    rt = _runtime(request)
    rid = request_id(request)
    try:
        rt.keys.tenant(request.headers.get("authorization"))  # any valid key may read them
    except LanewayError as err:
        return error_response(err, rid)
    report = await rt.feedback.core.report() if rt.feedback else {"experiments": []}
    return Response(orjson.dumps(report), media_type=_JSON, headers={"x-request-id": rid})
