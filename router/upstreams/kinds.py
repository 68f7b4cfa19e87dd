"""Upstream kinds and the bridges between a client's API and an upstream's.

The upstream stage resolves, once per (client API, model), which kind calls the model and
which bridge (if any) translates between the two APIs; a request then pays for a dict
look-up. Same API on both sides: no bridge, the cheap path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from policies.catalog import ModelSpec
from policies.lanes import Endpoint
from router.upstreams.openai import Reply, Timeouts

if TYPE_CHECKING:
    import aiohttp

    from router.upstreams import http1


class UpstreamKind(Protocol):
    """How a model of one kind is called."""

    apis: frozenset[str]  # the client APIs (Frontend.api) it takes as they are

    async def open(
        self, model: ModelSpec, endpoint: Endpoint, body: dict[str, Any], stream: bool,
        timeouts: Timeouts, started: float,
    ) -> Reply: ...


class Bridge(Protocol):
    """Translation between one client API and one upstream API, both ways."""

    endpoint: Endpoint  # the upstream route the translated request goes to

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """The client's (trimmed, renamed) body in the upstream's API."""
        ...

    def reply(self, reply: Reply, stream: bool) -> Reply:
        """The upstream's answer (its first chunk and the rest) in the client's API."""
        ...


# (client API, upstream kind) -> the bridge between them. Empty while every kind laneway
# ships speaks every front end's API; the Anthropic pair adds the first entries.
BRIDGES: Mapping[tuple[str, str], Bridge] = {}


def kind_of(model: ModelSpec) -> str:
    """The kind that calls `model`, from its `provider`."""
    return "openai" if model.openai_compatible else "litellm"


def build_kinds(
    models: Sequence[ModelSpec], session: aiohttp.ClientSession, pool: http1.Pool,
    previous: Mapping[str, UpstreamKind] | None = None,
) -> dict[str, UpstreamKind]:
    """One adapter per kind the config uses (litellm only when a model needs it)."""
    from router.upstreams.openai import OpenAIUpstream

    kinds: dict[str, UpstreamKind] = {"openai": OpenAIUpstream(session, pool)}
    if any(kind_of(m) == "litellm" for m in models):
        old = previous.get("litellm") if previous else None
        if old is None:
            from router.upstreams.litellm import LitellmUpstream

            old = LitellmUpstream()
        kinds["litellm"] = old
    return kinds
