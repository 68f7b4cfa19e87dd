"""The OpenAI front ends: chat completions, legacy completions, Responses, embeddings.

They differ in what `parse` checks and in how a stream ends; the rest is the OpenAI
error shape (`Frontend`'s defaults). Upstreams that speak the same API (vLLM, SGLang,
OpenAI, the fleet) get the client's body with laneway's edits only.
"""

from __future__ import annotations

from typing import Any

from policies.lanes import Endpoint
from router.frontends.base import Frontend
from router.http.body import validate
from router.upstreams.sse import stream_ended_cleanly


class OpenAIFrontend(Frontend):
    def __init__(self, endpoint: Endpoint, path: str) -> None:
        self.api = endpoint.value
        self.endpoint = endpoint
        self.paths = ("/v1" + path, path)

    def parse(self, body: dict[str, Any]) -> None:
        validate(self.endpoint, body)

    def ended(self, chunks: list[bytes]) -> bool:
        return stream_ended_cleanly(chunks, self.endpoint)

    def __repr__(self) -> str:
        return f"OpenAIFrontend({self.api})"


CHAT = OpenAIFrontend(Endpoint.CHAT, "/chat/completions")
COMPLETIONS = OpenAIFrontend(Endpoint.COMPLETIONS, "/completions")
RESPONSES = OpenAIFrontend(Endpoint.RESPONSES, "/responses")
EMBEDDINGS = OpenAIFrontend(Endpoint.EMBEDDINGS, "/embeddings")
