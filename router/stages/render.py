"""Stage 6, render: the answer on its way to the client, in the client's API.

A whole answer (an upstream's, a cached one) is one Response; a stream is relayed chunk by
chunk as it arrives, and a stream that breaks or ends without its API's end marker ends
with the front end's error event instead. Recording runs after the last byte either way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from starlette.responses import Response, StreamingResponse

from cache.response_cache import Hit
from cache.sse import LineGate, StreamRecord
from router.context import RequestContext
from router.errors import UpstreamError
from router.stages.feedback import FeedbackStage
from router.stages.record import Record, RecordAfter
from router.upstreams.openai import Reply, StreamBroken

SSE = "text/event-stream"
stamp = FeedbackStage.stamp


class Render:
    def __init__(self, record: Record) -> None:
        self.record = record

    def hit(self, ctx: RequestContext, hit: Hit) -> Response:
        """A cached answer, as the client asked (JSON, or an SSE replay)."""
        ctx.cache = hit.tier
        cp = ctx.notes.cache  # type: ignore[union-attr]
        data = ctx.frontend.render_hit(hit, ctx.stream, cp is not None and cp.want_usage)
        data = stamp(ctx, data)  # a fresh laneway id for every answer shown
        ctx.ttft_s = ctx.overhead_s = time.perf_counter() - ctx.started
        headers = ctx.answer_headers()
        if ctx.stream:
            headers["cache-control"] = "no-cache"
        return Response(
            data, media_type=SSE if ctx.stream else ctx.frontend.media_type, headers=headers,
            background=RecordAfter(self.record, ctx, [data], True),
        )

    def reply(self, ctx: RequestContext, reply: Reply) -> Response:
        if reply.rest is None:
            return Response(
                stamp(ctx, reply.first),
                media_type=reply.content_type,
                headers=ctx.answer_headers(),
                background=RecordAfter(self.record, ctx, [reply.first], True),
            )
        return StreamingResponse(
            self._relay(ctx, reply),
            media_type=SSE,
            headers=ctx.answer_headers() | {"cache-control": "no-cache"},
        )

    async def _relay(self, ctx: RequestContext, reply: Reply) -> AsyncIterator[bytes]:
        chunks = StreamRecord([reply.first])  # bounded, however long the stream
        complete = False
        gate = LineGate()  # a cut inside a line must not swallow the error event after it
        try:
            if out := gate.feed(reply.first):
                yield stamp(ctx, out)
            assert reply.rest is not None
            try:
                async for chunk in reply.rest:
                    chunks.append(chunk)
                    if out := gate.feed(chunk):
                        yield stamp(ctx, out)  # laneway's id in every chunk
            except StreamBroken as broken:
                ctx.status, ctx.error_reason = 502, broken.reason
                yield gate.cut() + ctx.frontend.stream_error(UpstreamError(broken.message))
                return
            if ctx.frontend.ended(chunks):
                complete = True
                if out := gate.rest():
                    yield out
            elif ctx.frontend.closed_by_error(chunks):
                ctx.status, ctx.error_reason = 502, "stream_error"
                if out := gate.rest():
                    yield out
            else:
                # The upstream hung up mid-answer: say so instead of pretending it finished.
                ctx.status, ctx.error_reason = 502, "stream_cut"
                yield gate.cut() + ctx.frontend.stream_error(UpstreamError(
                    f"Model '{ctx.model.name if ctx.model else '?'}' ended the stream early."))
        finally:
            if ctx.status == 200 and not complete:
                ctx.status, ctx.error_reason = 499, "client_gone"
            if reply.rest is not None:
                await reply.rest.aclose()  # type: ignore[attr-defined]
            reply.close()
            self.record.run(ctx, chunks, complete)
