from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from cache.keys import KEY_PREFIX, bypass_reason, endpoint_name, request_key


@dataclass(frozen=True)
class Rule:
    enabled: bool = True
    ttl_s: int = 600
    max_temperature: float = 0.3
    typeahead: bool = True


BODY: dict[str, Any] = {
    "model": "auto",
    "messages": [{"role": "user", "content": "What does git rebase do?"}],
    "temperature": 0,
    "max_tokens": 200,
}


def key(body: dict[str, Any], **over: str) -> str:
    args = {"tenant": "t-a", "model": "fast", "endpoint": "/v1/chat/completions", "lane": "qa"}
    return request_key(body=body, **(args | over))


def test_key_is_versioned_and_hashed() -> None:
    k = key(BODY)
    assert k.startswith(KEY_PREFIX + "r:")
    assert len(k) == len(KEY_PREFIX) + 2 + 64
    assert "rebase" not in k and "t-a" not in k


@pytest.mark.parametrize(
    "extra",
    [
        {"stream": True},
        {"stream": True, "stream_options": {"include_usage": True}},
        {"user": "alice"},
        {"metadata": {"trace": "1"}},
        {"request_id": "r-1"},
        {"store": True},
        {"service_tier": "flex"},
        {"prompt_cache_key": "abc"},
        {"safety_identifier": "u1"},
        {"top_p": None},
    ],
)
def test_fields_that_do_not_change_the_answer_are_not_in_the_key(extra: dict[str, Any]) -> None:
    assert key(BODY | extra) == key(BODY)


@pytest.mark.parametrize(
    "extra",
    [
        {"temperature": 0.2},
        {"max_tokens": 201},
        {"stop": ["\n"]},
        {"seed": 1},
        {"tools": [{"type": "function", "function": {"name": "f"}}]},
        {"parallel_tool_calls": False},
        {"tool_choice": "none"},
        {"response_format": {"type": "json_object"}},
        {"logprobs": True},
        {"messages": [{"role": "user", "content": "What does git merge do?"}]},
        {"messages": [{"role": "system", "content": "Be brief."}, *BODY["messages"]]},
    ],
)
def test_fields_that_change_the_answer_are_in_the_key(extra: dict[str, Any]) -> None:
    assert key(BODY | extra) != key(BODY)


def test_tenant_model_endpoint_and_lane_are_in_the_key() -> None:
    base = key(BODY)
    assert key(BODY, tenant="t-b") != base
    assert key(BODY, model="big") != base
    assert key(BODY, endpoint="/v1/responses") != base
    assert key(BODY, lane="agentic") != base


def test_key_is_canonical() -> None:
    reordered = dict(reversed(list(BODY.items())))
    assert key(reordered) == key(BODY)
    assert key(BODY | {"temperature": 0.0}) == key(BODY)
    assert key(BODY, endpoint="chat/completions") == key(BODY, endpoint="/chat/completions")
    nested = BODY | {"response_format": {"type": "json_schema", "json_schema": {"b": 1, "a": 2}}}
    swapped = BODY | {"response_format": {"json_schema": {"a": 2, "b": 1}, "type": "json_schema"}}
    assert key(nested) == key(swapped)


def test_endpoint_names() -> None:
    assert endpoint_name("/v1/chat/completions") == "chat"
    assert endpoint_name("/completions") == "completions"
    assert endpoint_name("/v1/responses") == "responses"


def test_bypass_rules() -> None:
    rule = Rule()
    assert bypass_reason({"temperature": 0.3}, rule) is None
    assert bypass_reason({"temperature": 0.31}, rule) == "temperature"
    assert bypass_reason({}, rule) == "temperature"  # absent means the default, 1.0
    assert bypass_reason({"temperature": "0"}, rule) == "temperature"
    assert bypass_reason({"temperature": 0, "n": 2}, rule) == "n"
    assert bypass_reason({"temperature": 0, "n": 1}, rule) is None
    assert bypass_reason({"temperature": 0, "best_of": 3}, rule) == "best_of"
    assert bypass_reason({"temperature": 0, "background": True}, rule) == "stateful"
    assert bypass_reason({"temperature": 0, "conversation": "conv_1"}, rule) == "stateful"
    assert bypass_reason({"temperature": 0}, Rule(enabled=False)) == "lane"
    assert bypass_reason({"temperature": 0}, Rule(ttl_s=0)) == "lane"
    assert bypass_reason({"temperature": 0}, None) == "lane"
    qa = Rule(ttl_s=3600, max_temperature=0.0, typeahead=False)
    assert bypass_reason({"temperature": 0}, qa) is None
    assert bypass_reason({"temperature": 0.1}, qa) == "temperature"


def test_policy_cache_section_is_a_rule() -> None:
    from policies.policy import DEFAULTS, CachePolicy

    completion = CachePolicy.model_validate(DEFAULTS["completion"]["cache"])
    agentic = CachePolicy.model_validate(DEFAULTS["agentic"]["cache"])
    assert bypass_reason({"temperature": 0.01}, completion) is None
    assert bypass_reason({"temperature": 0}, agentic) == "lane"


def test_the_variant_is_in_the_key() -> None:
    """The proxy keys the client's body: the trim budget and model family must count."""
    assert key(BODY, variant="default|budget-a") != key(BODY, variant="default|budget-b")
    assert key(BODY, variant="") == key(BODY)
