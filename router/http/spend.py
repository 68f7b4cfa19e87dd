"""`GET /laneway/spend`: the caller's team's spend this period, or every team's for an admin key."""

from __future__ import annotations

import hashlib
import hmac

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.config import Config
from router.errors import LanewayError
from router.http.endpoints import error_response, request_id


def is_admin(config: Config, authorization: str | None) -> bool:
    """Whether the header carries one of `server.admin_keys` (compared as digests, in
    constant time, every key checked: the answer's timing says nothing about which)."""
    if not config.admin_keys or not authorization or authorization[:7].lower() != "bearer ":
        return False
    given = hashlib.sha256(authorization[7:].strip().encode()).digest()
    found = False
    for key in config.admin_keys:
        found |= hmac.compare_digest(hashlib.sha256(key.reveal().encode()).digest(), given)
    return found


async def spend(request: Request) -> Response:
    rt = request.app.runtime
    rid = request_id(request)
    authorization = request.headers.get("authorization")
    try:
        if is_admin(rt.config, authorization):
            names = list(rt.config.teams)
        else:
            tenant = rt.keys.tenant(authorization)
            names = [tenant] if tenant in rt.config.teams else []  # a bare key has no team
        rows = await rt.ledger.report(names) if names and rt.ledger is not None else []
    except LanewayError as err:
        return error_response(err, rid)
    return Response(orjson.dumps({"teams": rows}), media_type="application/json",
                    headers={"x-request-id": rid})
