"""The transport seam of the upstream side, as a type.

The model-level seam, one adapter per upstream kind, is `UpstreamKind` (kinds.py).

`HttpAnswer`: one HTTP answer as both transports give it, the lean HTTP/1.1 client
(router/upstreams/http1.py, plain `http://`) and aiohttp (`https://`). They keep the same
semantics, which the tests hold them to (tests/router/test_upstream_clients.py): redirects
are answers, never followed; no compression is asked for and gzip/deflate bodies are decoded;
answer heads are bounded alike; a whole answer is bounded by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class AnswerBody(Protocol):
    async def readany(self) -> bytes:
        """What has arrived since the last read (waiting for something), b"" at the end."""
        ...


class HttpAnswer(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> AnswerBody: ...

    async def read(self) -> bytes:
        """The whole body."""
        ...

    def release(self) -> Any:
        """Done with a finished answer: its connection serves the next call."""
        ...

    def close(self) -> None:
        """Drop the connection: how an upstream learns to stop generating."""
        ...
