"""Providers that are not OpenAI-compatible (Anthropic, Bedrock, Vertex, ...) through litellm.

litellm is imported here, lazily, and only when a configured model needs it: importing it
costs seconds and hundreds of MB, and without LITELLM_LOCAL_MODEL_COST_MAP it reaches out
to the internet.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from policies.catalog import ModelSpec
from policies.lanes import Endpoint
from router.upstreams.openai import Reply, StreamBroken, Timeouts, UpstreamFailure

# Request fields litellm would use to re-route or re-credential a call: only config decides these.
_LITELLM_ONLY = frozenset(
    {"api_base", "base_url", "api_key", "api_version", "custom_llm_provider", "extra_headers",
     "model_list", "metadata", "litellm_params", "mock_response", "fallbacks", "num_retries"}
)


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.telemetry = False
    litellm.num_retries = 0  # laneway is the only retry layer
    return litellm


class LitellmUpstream:
    # litellm takes OpenAI-shaped requests and translates them for the provider itself.
    apis = frozenset(e.value for e in Endpoint)

    def __init__(self) -> None:
        self._mod = _litellm()

    async def open(
        self,
        model: ModelSpec,
        endpoint: Endpoint,
        body: dict[str, Any],
        stream: bool,
        timeouts: Timeouts,
        started: float,
    ) -> Reply:
        params = {k: v for k, v in body.items() if k not in _LITELLM_ONLY and k != "model"}
        params.update(
            model=f"{model.provider}/{model.upstream_model}",
            api_base=model.api_base,
            timeout=timeouts.total_s,
            num_retries=0,
            max_retries=0,  # the provider SDK's own retries (OpenAI's client defaults to 2)
        )
        if model.api_key:
            params["api_key"] = model.api_key.reveal()
        call = {
            Endpoint.CHAT: self._mod.acompletion,
            Endpoint.COMPLETIONS: self._mod.atext_completion,
            Endpoint.RESPONSES: self._mod.aresponses,
            Endpoint.EMBEDDINGS: self._mod.aembedding,
        }[endpoint]
        try:
            result = await call(**params)
            if not stream:
                data = orjson.dumps(result.model_dump(exclude_none=True))
                return Reply(200, "application/json", data, None,
                             time.perf_counter() - started, lambda: None)
            it = result.__aiter__()
            first = await it.__anext__()
        except Exception as exc:  # litellm raises its own tree; translate at the border
            status = getattr(exc, "status_code", None)
            raise UpstreamFailure(
                model.name,
                "status_429" if status == 429 else "provider",
                f"Model '{model.name}' failed: {type(exc).__name__}.",
                status=status,
                retryable=status is None or status >= 429,
            ) from None
        return Reply(200, "text/event-stream", _sse(first), _chunks(it, model),
                     time.perf_counter() - started, lambda: None)


def _sse(chunk: Any) -> bytes:
    return b"data: " + orjson.dumps(chunk.model_dump(exclude_none=True)) + b"\n\n"


async def _chunks(it: Any, model: ModelSpec) -> AsyncIterator[bytes]:
    try:
        async for chunk in it:
            yield _sse(chunk)
    except Exception as exc:
        raise StreamBroken("provider", f"Model '{model.name}' failed: {type(exc).__name__}.") \
            from None
    yield b"data: [DONE]\n\n"
