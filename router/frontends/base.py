"""What a front end is: a client API's way in (parse) and way out (render)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from policies.lanes import Endpoint

if TYPE_CHECKING:
    from cache.response_cache import Hit
    from router.context import RequestContext
    from router.errors import LanewayError

JSON = "application/json"


class Frontend:
    """One client API. Instances are immutable and shared by every request.

    The defaults are the OpenAI shapes; an adapter overrides what its API does otherwise.
    """

    api: str  # the wire format: an upstream kind that speaks it gets the body as is
    endpoint: Endpoint  # what classify, trim and the cache key read the body as
    paths: tuple[str, ...]  # the routes it serves (POST)
    shape: Any  # the request's pydantic type: `parse` validates by it, OpenAPI documents it
    summary: str  # one line for the OpenAPI document
    media_type = JSON  # of its non-streamed answers and errors

    def credential(self, headers: Mapping[str, str]) -> str | None:
        """The client's key as its API sends it (the raw header value)."""
        return headers.get("authorization")

    def parse(self, body: dict[str, Any]) -> None:
        """Check what laneway reads of the body; raise InvalidRequest in the client's words.
        The body stays the client's: laneway's edits (trim, rename) come later, in place."""
        raise NotImplementedError

    def error_body(self, err: LanewayError) -> bytes:
        """An error in the client's shape."""
        return err.body()

    def error(self, err: LanewayError, rid: str, ctx: RequestContext | None = None) -> Response:
        headers = {"x-request-id": rid, **err.headers}
        if ctx is not None:
            headers.update(ctx.answer_headers())
        return Response(self.error_body(err), status_code=err.status,
                        media_type=self.media_type, headers=headers)

    def stream_error(self, err: LanewayError) -> bytes:
        """The last event of a stream that failed after it started."""
        return err.sse_event()

    def ended(self, chunks: list[bytes]) -> bool:
        """Whether a relayed stream ended with the API's end marker (else it was cut)."""
        raise NotImplementedError

    def render_hit(self, hit: Hit, stream: bool, include_usage: bool) -> bytes:
        """A cached answer, whole, as JSON or as an SSE replay."""
        return hit.render(stream, include_usage)
