"""Which requests may be answered from the cache, and the key an answer is stored under.

A key is `lw:v1:r:` + sha256 over a canonical encoding (orjson, sorted keys) of the
tenant, the model, the endpoint, the lane, a variant (what else decides the body sent to
the model: the proxy keys the client's body before trimming, so a hit skips trimming) and
the request body minus the fields that do not change the answer. Bump `VERSION` whenever
what goes into a key, or the stored format, changes incompatibly: old entries then simply
stop matching and expire. (Adding a part to the hashed material already changes every key.)

Fields left out of the key (they change how or where an answer is delivered, not what it is):
- `stream`, `stream_options`: a streamed and a non-streamed request get the same answer;
  replay renders it either way, with a usage chunk only when `include_usage` asks.
- `user`, `metadata`, `safety_identifier`, `request_id`: attribution and bookkeeping.
- `store`: whether the provider keeps a copy; `service_tier`: priority and price;
  `prompt_cache_key`, `prompt_cache_retention`: hints for the provider's prompt cache.
Everything else stays in, including `parallel_tool_calls`, `tool_choice`, `seed`, `stop`,
`max_tokens`, `logprobs`, `response_format`, `include` and `previous_response_id`.
Top-level `null`s are dropped (absent and null mean the same), and the sampling numbers
are compared as floats (`0` and `0.0` are one temperature).

Who may be answered from the cache (`bypass_reason`): the lane's policy must enable it,
`temperature` must be at most the policy's `max_temperature` (absent counts as 1.0, the
OpenAI default), `n` (and `best_of`) must be 1, and nothing stateful may be asked for:
Responses `background` runs and `conversation` objects (which the call itself changes).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Mapping
from typing import Any, Protocol

import orjson

VERSION = "v1"
KEY_PREFIX = f"lw:{VERSION}:"

NEUTRAL_FIELDS = frozenset(
    {
        "stream",
        "stream_options",
        "user",
        "metadata",
        "safety_identifier",
        "request_id",
        "store",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
    }
)
_FLOAT_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_DEFAULT_TEMPERATURE = 1.0


class CacheRule(Protocol):
    """A lane's cache policy; `policies.policy.CachePolicy` has this shape."""

    @property
    def enabled(self) -> bool: ...

    @property
    def ttl_s(self) -> int: ...

    @property
    def max_temperature(self) -> float: ...

    @property
    def typeahead(self) -> bool: ...


@functools.lru_cache(maxsize=64)  # a handful of spellings; asked twice per request
def endpoint_name(endpoint: str) -> str:
    """`/v1/chat/completions`, `chat/completions` and `chat` all name the chat endpoint."""
    e = endpoint.strip("/")
    if e.startswith("v1/"):
        e = e[3:]
    return {"chat/completions": "chat", "completions": "completions", "responses": "responses"}.get(
        e, e
    )


def bypass_reason(body: Mapping[str, Any], rule: CacheRule | None) -> str | None:
    """None when the request may be answered from (and stored in) the cache; else why not."""
    if rule is None or not rule.enabled or rule.ttl_s <= 0:
        return "lane"
    temperature = body.get("temperature")
    if temperature is None:
        temperature = _DEFAULT_TEMPERATURE
    if not isinstance(temperature, int | float) or isinstance(temperature, bool):
        return "temperature"
    if float(temperature) > rule.max_temperature:
        return "temperature"
    for many in ("n", "best_of"):
        value = body.get(many)
        if value is not None and value != 1:
            return many
    if body.get("background") or body.get("conversation"):
        return "stateful"
    return None


def canonical_body(body: Mapping[str, Any], leave_out: Collection[str] = ()) -> dict[str, Any]:
    """The body as far as it decides the answer (see the module docstring), without the
    fields in `leave_out` (those the caller keys otherwise)."""
    out: dict[str, Any] = {}
    for name, value in body.items():
        if value is None or name in NEUTRAL_FIELDS or name in leave_out:
            continue
        if name in _FLOAT_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[name] = value
    return out


def request_key(
    *, tenant: str, model: str, endpoint: str, body: Mapping[str, Any], lane: str = "",
    variant: str = "", leave_out: Collection[str] = (),
) -> str:
    """The key of the answer to `body` sent to `model` on behalf of `tenant`. `variant`
    names whatever else turns `body` into what `model` is sent (the proxy keys the client's
    body, so: the policy's trim budget and the model's FIM family and upstream name)."""
    material = {
        "tenant": tenant,
        "model": model,
        "endpoint": endpoint_name(endpoint),
        "lane": lane,
        "variant": variant,
        "body": canonical_body(body, leave_out),
    }
    digest = hashlib.sha256(
        orjson.dumps(material, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    ).hexdigest()
    return f"{KEY_PREFIX}r:{digest}"
