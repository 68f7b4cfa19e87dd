"""Fields that would redirect or re-credential the upstream call never survive `scrub`."""

import timeit

import pytest

from router.upstreams.scrub import forbidden, scrub

TYPICAL = {
    "model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True,
    "temperature": 0.2, "max_tokens": 256, "stream_options": {"include_usage": True},
}

# One of each kind litellm (1.110) would obey: endpoint, credentials, routing, retries, mocks,
# callbacks, pricing, provider credentials, internals.
SMUGGLED = [
    "api_base", "base_url", "api_key", "api_version", "custom_llm_provider", "extra_headers",
    "model_list", "fallbacks", "num_retries", "max_retries", "mock_response", "litellm_params",
    "litellm_metadata", "aws_secret_access_key", "aws_region_name", "vertex_credentials",
    "azure_ad_token", "input_cost_per_token", "cache_read_input_token_cost", "timeout",
    "_litellm_internal", "langfuse_secret_key", "use_litellm_proxy", "auto_router_config",
    "headers", "organization", "client_secret", "s3_endpoint_url", "logger_fn",
]

# Real request fields of OpenAI and vLLM that must pass untouched.
KEPT = [
    "prompt_cache_key", "service_tier", "top_k", "min_p", "repetition_penalty", "guided_json",
    "chat_template_kwargs", "vllm_xargs", "kv_transfer_params", "thinking", "user", "seed",
    "stop_token_ids", "allowed_token_ids", "prompt_logprobs", "reasoning_effort",
]


@pytest.mark.parametrize("name", SMUGGLED)
def test_smuggled_top_level_field_is_removed(name: str):
    body = dict(TYPICAL, **{name: "http://127.0.0.1:1/evil"})
    assert scrub(body) == [name]
    assert body == TYPICAL


@pytest.mark.parametrize("name", KEPT)
def test_real_request_fields_are_kept(name: str):
    body = dict(TYPICAL, **{name: 1})
    assert scrub(body) == []
    assert body[name] == 1


def test_nested_in_extra_body_and_metadata():
    body = dict(
        TYPICAL,
        extra_body={"api_base": "http://evil", "model": "other", "top_k": 3,
                    "extra_body": {"api_key": "sk-x"}},
        metadata={"trace": "t1", "headers": {"x": "y"}, "api_key": "sk-y"},
    )
    removed = scrub(body)
    assert sorted(removed) == [
        "extra_body.api_base", "extra_body.extra_body.api_key", "extra_body.model",
        "metadata.api_key", "metadata.headers",
    ]
    assert body["extra_body"] == {"top_k": 3, "extra_body": {}}
    assert body["metadata"] == {"trace": "t1"}


def test_non_object_containers_are_dropped():
    body = dict(TYPICAL, extra_body="api_base=http://evil", metadata=["x"])
    assert sorted(scrub(body)) == ["extra_body", "metadata"]
    assert body == TYPICAL


def test_names_are_judged_case_insensitively():
    assert forbidden("API_BASE") and forbidden("Api_Key") and forbidden("LiteLLM_Params")


def test_removed_values_are_never_reported():
    body = dict(TYPICAL, api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(scrub(body))


def test_typical_body_costs_well_under_a_microsecond():
    # A budget with headroom for slow CI machines; the measured figure is ~0.25 us here.
    n = 20000
    per_call = min(timeit.repeat(lambda: scrub(TYPICAL), number=n, repeat=3)) / n
    assert per_call < 2e-6
