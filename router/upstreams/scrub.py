"""Removing request fields that would redirect or re-credential the upstream call.

Only the config decides where a request goes and with which key. A client body may carry
`api_base`, `api_key`, `extra_headers`, litellm's own parameters (`model_list`, `fallbacks`,
`mock_response`, `aws_secret_access_key`, ...), at the top level or nested in `extra_body`
or `metadata`; litellm would obey them. They are dropped before anything reads the body.

Cost: every request pays for `scrub`. Its fast path is one set difference in C against the
fields OpenAI-compatible servers define (`_PLAIN`); only the rare unknown field is judged
by name, so a typical body costs well under a microsecond.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

log = logging.getLogger("laneway.security")

# Fields of the OpenAI API and of vLLM / SGLang that cannot redirect or re-credential a call.
# `metadata` and `extra_body` are not here on purpose: their contents are checked.
_PLAIN = frozenset({
    "model", "messages", "prompt", "suffix", "input", "instructions", "stream", "stream_options",
    "temperature", "top_p", "n", "max_tokens", "max_completion_tokens", "max_output_tokens",
    "stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "echo", "best_of", "user", "seed", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "functions", "function_call", "modalities", "audio", "prediction",
    "reasoning_effort", "reasoning", "verbosity", "service_tier", "store", "safety_identifier",
    "prompt_cache_key", "prompt_cache_retention", "web_search_options", "previous_response_id",
    "include", "truncation", "text", "background", "conversation", "max_tool_calls",
    "encoding_format", "dimensions",
    # vLLM / SGLang sampling and decoding extras
    "top_k", "min_p", "repetition_penalty", "length_penalty", "min_tokens", "ignore_eos",
    "stop_token_ids", "skip_special_tokens", "spaces_between_special_tokens",
    "include_stop_str_in_output", "guided_json", "guided_regex", "guided_choice",
    "guided_grammar", "structured_outputs", "chat_template_kwargs", "add_generation_prompt",
    "continue_final_message", "priority", "cache_salt", "bad_words", "allowed_token_ids",
    "truncate_prompt_tokens", "return_tokens_as_token_ids", "prompt_logprobs",
})

# Where a call goes and with which credentials (OpenAI SDK client options, litellm kwargs,
# provider credentials), and litellm's routing, retry, mocking, callback and cache controls.
_FORBIDDEN = frozenset({
    "api_base", "base_url", "api_key", "api_version", "api_type", "custom_llm_provider",
    "extra_headers", "extra_query", "headers", "organization", "project", "deployment_id",
    "azure", "azure_ad_token", "azure_ad_token_provider", "azure_username", "azure_password",
    "azure_scope", "client_id", "client_secret", "tenant_id", "region_name", "ssl_verify",
    "model_list", "model_info", "model_alias_map", "base_model", "litellm_params", "fallbacks",
    "context_window_fallback_dict", "num_retries", "max_retries", "retry_policy",
    "retry_strategy", "timeout", "request_timeout", "stream_timeout", "force_timeout",
    "mock_response", "mock_timeout", "mock_tool_calls", "logger_fn", "callbacks",
    "success_callback", "failure_callback", "cache", "caching", "cache_key", "ttl", "client",
    "shared_session", "proxy_server_request", "secret_fields", "guardrails", "tags",
    "use_litellm_proxy", "use_in_pass_through", "use_client", "allowed_openai_params",
    "additional_drop_params", "drop_params", "custom_prompt_dict", "input_cost_per_token",
    "output_cost_per_token", "model_file_id_mapping", "user_continue_message",
    "assistant_continue_message", "ensure_alternating_roles", "initial_prompt_value",
    "final_prompt_value", "roles", "bos_token", "eos_token", "hf_model_name", "id",
    "acompletion", "aembedding", "atext_completion", "text_completion", "self", "no-log",
    "original_function", "routing_strategy", "order", "weight", "rpm", "tpm",
})

# Prefixes and fragments of provider credentials and litellm internals; new litellm releases
# add such names often, so these catch them without a list update.
_PREFIXES = (
    "_", "litellm", "aws_", "vertex_", "azure_", "watsonx_", "bedrock_", "sagemaker_",
    "anthropic_", "openai_", "github_copilot", "langfuse_", "langsmith_", "s3_", "gcs_", "dd_",
    "arize_", "posthog_", "newrelic_", "signoz_", "weave_", "fireworks_", "kubernetes_",
    "token_exchange", "budget_", "max_budget", "max_agentic", "max_fallback", "max_file",
    "max_parallel", "use_", "enable_", "disable_", "allow", "prompt_", "stream_", "tag",
    "async_", "aimg", "allm", "complete", "completion_call", "merge_", "output_vector",
    "thought_signature", "turn_off", "log_client", "search_tool", "supports_", "responses_api",
    "attempted", "keepalive", "cooldown", "fastest", "silent_", "tiered_", "daily_", "data_res",
    "model_config", "rust", "verbose", "itpm", "otpm", "rpd", "tpd",
)
_FRAGMENTS = (
    "api_key", "api_base", "base_url", "secret", "credential", "password", "access_key",
    "_endpoint", "_url", "auth_", "_auth", "authorization", "cost", "uplift", "router",
    "fallback", "timeout", "header", "region", "_tag", "cach",
)

# Containers litellm merges into the call: their contents are judged like top-level fields.
_NESTED = ("extra_body", "metadata")
_MAX_DEPTH = 3
_SUSPECT = re.compile(
    "^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + ")|"
    + "|".join(re.escape(f) for f in _FRAGMENTS)
)


@functools.lru_cache(maxsize=4096)
def forbidden(name: str) -> bool:
    """Whether a field named so may redirect or re-credential a call (cached: names repeat)."""
    lowered = name.lower()
    if lowered in _PLAIN:
        return False
    return lowered in _FORBIDDEN or _SUSPECT.search(lowered) is not None


def scrub(body: dict[str, Any]) -> list[str]:
    """Drop redirecting fields from `body` in place; returns their paths (names, never values)."""
    if body.keys() <= _PLAIN:  # the usual body: one subset test in C
        return []
    removed: list[str] = []
    _scrub(body, "", removed, 0)
    if removed:
        log.info("removed request fields: %s", ", ".join(sorted(removed)))
    return removed


def _scrub(obj: dict[str, Any], where: str, removed: list[str], depth: int) -> None:
    for name in list(obj):
        if depth == 0 and name in _PLAIN:
            continue
        value = obj[name]
        if name in _NESTED:
            if isinstance(value, dict) and depth < _MAX_DEPTH:
                _scrub(value, f"{where}{name}.", removed, depth + 1)
            elif value is not None and not isinstance(value, dict):
                # A non-object here is not something litellm would merge; drop it rather
                # than guess how a provider would read it.
                del obj[name]
                removed.append(where + name)
            continue
        # Inside extra_body, `model` would override the routed model once merged upstream.
        if forbidden(name) or (depth and name == "model"):
            del obj[name]
            removed.append(where + name)
