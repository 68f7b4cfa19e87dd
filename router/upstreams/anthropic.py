"""Any server speaking Anthropic's Messages API at `api_base` (Anthropic, and the model
servers that offer it), spoken natively: a Messages request goes as the client sent it,
with laneway's edits only (model, trimming, max_tokens), thinking blocks, signatures and
`cache_control` intact, and `anthropic-version` / `anthropic-beta` forwarded. Chat requests
reach it translated (router/upstreams/bridges.py); other APIs have no bridge to it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from yarl import URL

from policies.catalog import ModelSpec
from policies.lanes import Endpoint
from router.upstreams import http1
from router.upstreams.openai import OpenAIUpstream, Reply, Timeouts

DEFAULT_VERSION = "2023-06-01"
MIN_THINKING_BUDGET = 1024  # Anthropic refuses a smaller `budget_tokens`
# Targets per (model, version, beta): clients send a handful of combinations; a flood of
# made-up beta lists only refills the table.
_MAX_TARGETS = 256


class AnthropicUpstream(OpenAIUpstream):
    apis = frozenset({"messages"})

    def __init__(self, session: aiohttp.ClientSession, pool: http1.Pool | None = None) -> None:
        super().__init__(session, pool)
        # The spec is kept to check it is the same one (hashing a spec costs more than this).
        self._messages: dict[tuple[str, str, str | None], tuple[ModelSpec, URL, Any]] = {}

    def messages_target(
        self, model: ModelSpec, version: str | None, beta: str | None
    ) -> tuple[URL, Any]:
        key = (model.name, version or DEFAULT_VERSION, beta)
        t = self._messages.get(key)
        if t is None or t[0] is not model:
            headers = {"content-type": "application/json", "anthropic-version": key[1]}
            if beta:
                headers["anthropic-beta"] = beta
            if model.api_key:
                headers["x-api-key"] = model.api_key.reveal()
            if len(self._messages) >= _MAX_TARGETS:
                self._messages.clear()
            url, how = self.target(model.api_base + "/messages", headers)
            t = self._messages[key] = (model, url, how)
        return t[1], t[2]

    async def open(
        self,
        model: ModelSpec,
        endpoint: Endpoint,
        body: dict[str, Any],
        stream: bool,
        timeouts: Timeouts,
        started: float,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        # Only Messages bodies arrive here: chat ones come through their bridge, translated.
        version = beta = None
        if headers is not None:
            version, beta = headers.get("anthropic-version"), headers.get("anthropic-beta")
        url, how = self.messages_target(model, version, beta)
        return await self.exchange(model, url, how, fit_thinking(body), stream, timeouts,
                                   started)


def fit_thinking(body: dict[str, Any]) -> dict[str, Any]:
    """A thinking budget must stay below `max_tokens`, which laneway may have lowered to
    fit the model's window: the budget follows it down, and thinking goes when no budget
    Anthropic accepts is left. `body` is the request's own copy (top level)."""
    thinking = body.get("thinking")
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        return body
    budget, limit = thinking.get("budget_tokens"), body.get("max_tokens")
    if not isinstance(budget, int) or not isinstance(limit, int) or budget < limit:
        return body
    if limit - 1 < MIN_THINKING_BUDGET:
        del body["thinking"]
    else:
        body["thinking"] = {**thinking, "budget_tokens": limit - 1}
    return body
