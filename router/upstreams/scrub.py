"""Forward what the upstream API defines, nothing else: an allowlist per endpoint.

Only the config decides where a request goes and with which key. A denylist can't keep up:
a LiteLLM proxy behind laneway obeys `user_config` (it builds a router from it: an SSRF
route), `proxy`, `http_client`, `default_query`, new names every release, and case variants
of each. So every field outside the endpoint's own API (OpenAI's, plus the sampling and
decoding extensions vLLM and SGLang accept) is dropped before anything reads the body; a
model's `extra_fields` in the config lets more through, to that model only.

Left out on purpose though vLLM or SGLang define them: fields that load code or files or
reach other hosts on the server (`chat_template`, `logits_processors`, `lora_path`,
`custom_logit_processor`, `kv_transfer_params`, `bootstrap_host`, ...); a deployment that
wants one names it in `extra_fields`.

Cost: every request pays for `scrub`; its fast path is one subset test in C.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from policies.ceiling import CEILING_FIELDS
from policies.lanes import Endpoint

log = logging.getLogger("laneway.security")

# laneway's own request fields: read at the front, never sent upstream.
OWN_FIELDS = frozenset({"filepath"})

_SAMPLING = frozenset({
    "model", "stream", "stream_options", "temperature", "top_p", "n", "stop", "seed", "user",
    "presence_penalty", "frequency_penalty", "logit_bias", "logprobs", "top_logprobs",
    "service_tier", "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
    "metadata", *CEILING_FIELDS,
    # vLLM / SGLang sampling and decoding
    "top_k", "min_p", "repetition_penalty", "length_penalty", "min_tokens", "ignore_eos",
    "stop_token_ids", "skip_special_tokens", "spaces_between_special_tokens", "no_stop_trim",
    "include_stop_str_in_output", "bad_words", "allowed_token_ids", "truncate_prompt_tokens",
    "prompt_logprobs", "return_tokens_as_token_ids", "use_beam_search", "best_of", "priority",
    "cache_salt", "add_special_tokens", "vllm_xargs",
    # guided decoding / structured outputs (vLLM's old and new names, SGLang's)
    "guided_json", "guided_regex", "guided_choice", "guided_grammar", "guided_decoding_backend",
    "guided_whitespace_pattern", "structural_tag", "structured_outputs", "response_format",
    "regex", "ebnf", "json_schema",
})
_CHAT = _SAMPLING | {
    "messages", "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call",
    "modalities", "audio", "prediction", "reasoning_effort", "verbosity", "store",
    "web_search_options", "echo", "add_generation_prompt", "continue_final_message",
    "chat_template_kwargs", "documents", "separate_reasoning", "stream_reasoning",
    # reasoning switches of OpenAI-compatible servers (DeepSeek, GLM, Kimi, DashScope)
    "thinking", "enable_thinking", "thinking_budget",
}
ALLOWED: dict[Endpoint, frozenset[str]] = {
    Endpoint.CHAT: frozenset(_CHAT),
    Endpoint.COMPLETIONS: _SAMPLING | {"prompt", "suffix", "echo"},
    Endpoint.RESPONSES: _SAMPLING | {
        "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "reasoning",
        "text", "include", "store", "previous_response_id", "truncation", "background",
        "conversation", "max_tool_calls", "prompt",
    },
    Endpoint.EMBEDDINGS: frozenset({
        "model", "input", "encoding_format", "dimensions", "user", "truncate_prompt_tokens",
        "add_special_tokens",
    }),
}

# OpenAI's `metadata`: at most 16 string pairs, keys up to 64 and values up to 512 chars.
# LiteLLM reads some of its keys as settings: pairs whose key names an endpoint, a
# credential or a model go too.
_METADATA_PAIRS, _METADATA_KEY, _METADATA_VALUE = 16, 64, 512
_METADATA_SETTINGS = ("api", "key", "base", "url", "header", "secret", "token", "model",
                      "proxy", "litellm", "credential", "password", "config")
# What SDKs call `extra_body` is merged into the body by the SDK; a body that still carries
# one was written for a proxy that merges it (LiteLLM): its allowed fields are merged here,
# where the allowlist sees them, and the container goes.
_EXTRA_BODY = "extra_body"


def scrub(body: dict[str, Any], endpoint: Endpoint, extra: frozenset[str] = frozenset()
          ) -> list[str]:
    """Drop from `body`, in place, every field the endpoint's API does not define (nor
    `extra`, the config's `extra_fields` of any model); returns their paths, never values."""
    allowed = ALLOWED.get(endpoint)
    if allowed is None:  # a front end with its own upstream API scrubs for itself
        return []
    if body.keys() <= allowed and "metadata" not in body:  # the usual body: one test in C
        return []
    removed: list[str] = []
    for name in list(body):
        if name in allowed or name in extra or name in OWN_FIELDS:
            continue
        value = body.pop(name)
        if name == _EXTRA_BODY and isinstance(value, dict):
            for inner, v in value.items():
                # Never `model` (it would override the routed one), never another level.
                if inner != "model" and inner in allowed and inner not in body:
                    body[inner] = v
                else:
                    removed.append(f"{name}.{inner}")
            continue
        removed.append(name)
    if "metadata" in body:
        _keep_plain_metadata(body, removed)
    if removed:
        log.info("removed request fields: %s", ", ".join(sorted(removed)))
    return removed


def _keep_plain_metadata(body: dict[str, Any], removed: list[str]) -> None:
    metadata = body["metadata"]
    if not isinstance(metadata, dict):
        del body["metadata"]
        removed.append("metadata")
        return
    kept: dict[str, str] = {}
    for k, v in metadata.items():
        if (len(kept) < _METADATA_PAIRS and isinstance(k, str) and len(k) <= _METADATA_KEY
                and isinstance(v, str) and len(v) <= _METADATA_VALUE
                and not any(word in k.lower() for word in _METADATA_SETTINGS)):
            kept[k] = v
        else:
            removed.append(f"metadata.{str(k)[:_METADATA_KEY]}")
    if len(kept) != len(metadata):
        body["metadata"] = kept


# Upstreams quote the key they were sent, whole or as a fragment: OpenAI's
# "sk-proj-ab**********wxyz", "Bearer <key>", a provider's own "sk-..." token.
_MASKED = re.compile(r"[\w\-.:]*\*{3,}[\w\-.:]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+")
_KEYLIKE = re.compile(r"\b(?:sk|pk|rk|ak)-[\w\-]{6,}")


def mask_secrets(text: str, key: str = "") -> str:
    """`text` (an upstream's error) with any key or key fragment it quotes masked."""
    if key:
        text = text.replace(key, "***")
    if "*" in text:
        text = _MASKED.sub("***", text)
    text = _BEARER.sub(r"\1 ***", text)
    return _KEYLIKE.sub("***", text)
