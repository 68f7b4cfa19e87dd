"""Everything built once from a config: the objects the pipeline's stages use.

A reload builds a new Runtime and swaps it in; requests in flight keep the one they started
with, so nothing changes under their feet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp

from policies.catalog import ModelSpec
from router.auth import KeyRing
from router.config import Config
from router.metrics import Metrics
from router.upstream import OpenAIUpstream


@dataclass(eq=False)
class Runtime:
    config: Config
    metrics: Metrics
    session: aiohttp.ClientSession
    openai: OpenAIUpstream
    keys: KeyRing
    litellm: Any = None  # LitellmUpstream, only when a configured model needs it
    by_lane: dict[str, tuple[ModelSpec, ...]] = field(default_factory=dict)
    largest: ModelSpec | None = None

    @classmethod
    def build(cls, config: Config, metrics: Metrics, session: aiohttp.ClientSession) -> Runtime:
        litellm = None
        if any(not m.openai_compatible for m in config.models):
            from router.upstream_litellm import LitellmUpstream

            litellm = LitellmUpstream()
        by_lane = {
            lane: tuple(
                sorted(
                    (m for m in config.models if lane in m.lanes),
                    key=lambda m: (m.price_input + m.price_output, m.tier),
                )
            )
            for lane in ("completion", "qa", "agentic")
        }
        largest = max(config.models, key=lambda m: (m.tier, m.price_input + m.price_output))
        for m in config.models:
            metrics.model_up.labels(m.name).set(1)
        return cls(
            config, metrics, session, OpenAIUpstream(session), KeyRing(config), litellm, by_lane,
            largest,
        )

    def client_for(self, model: ModelSpec) -> Any:
        return self.openai if model.openai_compatible else self.litellm
