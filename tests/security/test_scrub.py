"""Only what the endpoint's upstream API defines survives `scrub`: an allowlist, not a denylist."""

import pytest

from policies.lanes import Endpoint
from router.upstreams.scrub import ALLOWED, mask_secrets, scrub

CHAT = Endpoint.CHAT
TYPICAL = {
    "model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True,
    "temperature": 0.2, "max_tokens": 256, "stream_options": {"include_usage": True},
}

# What a LiteLLM proxy (or the SDK it wraps) would obey: endpoints, credentials, routing
# (`user_config` builds a router from client-supplied config), the SDK's client options.
SMUGGLED = [
    "user_config", "proxy", "http_client", "default_query", "default_headers", "api_base",
    "base_url", "api_key", "extra_headers", "extra_query", "model_list", "fallbacks",
    "mock_response", "litellm_params", "aws_secret_access_key", "timeout", "headers",
    "organization", "callbacks", "kv_transfer_params", "chat_template", "logits_processors",
    "lora_path", "custom_logit_processor", "User_Config", "API_BASE", "Api_Key", "Model",
]

# Real request fields of OpenAI, vLLM and SGLang that must pass untouched.
KEPT = [
    "prompt_cache_key", "service_tier", "top_k", "min_p", "repetition_penalty", "guided_json",
    "guided_choice", "structured_outputs", "chat_template_kwargs", "user", "seed",
    "stop_token_ids", "allowed_token_ids", "prompt_logprobs", "reasoning_effort", "min_tokens",
    "response_format", "regex", "ebnf", "json_schema", "thinking", "max_completion_tokens",
]


@pytest.mark.parametrize("name", SMUGGLED)
def test_fields_outside_the_api_are_dropped(name: str):
    body = dict(TYPICAL, **{name: {"api_base": "http://127.0.0.1:1/evil"}})
    assert scrub(body, CHAT) == [name]
    assert body == TYPICAL


@pytest.mark.parametrize("name", KEPT)
def test_real_request_fields_are_kept(name: str):
    body = dict(TYPICAL, **{name: 1})
    assert scrub(body, CHAT) == []
    assert body[name] == 1


def test_each_endpoint_has_its_own_fields():
    chat_only = dict(TYPICAL, prompt="x", input="y", suffix="z")
    assert sorted(scrub(chat_only, CHAT)) == ["input", "prompt", "suffix"]
    legacy = {"model": "auto", "prompt": "def f(", "suffix": ")", "messages": [], "tools": []}
    assert sorted(scrub(legacy, Endpoint.COMPLETIONS)) == ["messages", "tools"]
    embed = {"model": "e", "input": "x", "temperature": 0.1, "dimensions": 8}
    assert scrub(embed, Endpoint.EMBEDDINGS) == ["temperature"]
    assert "instructions" in ALLOWED[Endpoint.RESPONSES] and "suffix" not in ALLOWED[CHAT]


def test_extra_body_is_merged_once_without_model_or_deeper_levels():
    body = dict(
        TYPICAL,
        extra_body={"top_k": 3, "min_p": 0.1, "model": "other", "api_base": "http://evil",
                    "user_config": {"model_list": []}, "temperature": 1.5,
                    "extra_body": {"api_key": "sk-x", "top_k": 9}},
    )
    removed = scrub(body, CHAT)
    assert sorted(removed) == ["extra_body.api_base", "extra_body.extra_body",
                               "extra_body.model", "extra_body.temperature",
                               "extra_body.user_config"]
    # The client's own top-level temperature wins over the merged one.
    assert body == dict(TYPICAL, top_k=3, min_p=0.1)


def test_metadata_keeps_plain_string_pairs_only():
    body = dict(TYPICAL, metadata={"trace": "t1", "headers": {"x": "y"}, "api_base": "http://e",
                                   "user_config": "x", "n": 3})
    assert sorted(scrub(body, CHAT)) == ["metadata.api_base", "metadata.headers", "metadata.n",
                                         "metadata.user_config"]
    assert body["metadata"] == {"trace": "t1"}
    listed = dict(TYPICAL, metadata=["x"])
    assert scrub(listed, CHAT) == ["metadata"] and listed == TYPICAL


def test_configured_extra_fields_pass():
    body = dict(TYPICAL, lora_request={"name": "a"})
    assert scrub(body, CHAT, frozenset({"lora_request"})) == []
    assert body["lora_request"] == {"name": "a"}


def test_removed_values_are_never_reported():
    body = dict(TYPICAL, api_key="sk-secret-123", extra_body={"api_key": "sk-secret-456"})
    assert "sk-secret" not in repr(scrub(body, CHAT))


@pytest.mark.parametrize("quoted", [
    "Incorrect API key provided: sk-proj-ab********************wxyz.",
    "Invalid header Authorization: Bearer sk-upstream-0123456789abcdef",
    "key sk-ant-api03-0123456789 is revoked",
    "the key upstream-secret-0123456789 expired",
])
def test_keys_and_key_fragments_in_upstream_errors_are_masked(quoted: str):
    masked = mask_secrets(quoted, "upstream-secret-0123456789")
    assert not any(piece in masked for piece in ("wxyz", "0123456789", "sk-proj", "sk-ant"))
    assert masked.startswith(quoted.split(" ")[0])  # the rest of the message stays readable
