"""The copy-paste lines `laneway up` prints per tool: one line each, for this base URL.

The full snippets (config files) are in the README's 'Use it with your tools', checked by
tests/e2e/test_readme_tools.py against the example config; these are their shortest form.
Any key works while the config has no `server.api_keys`; the tools insist on one.
"""

from __future__ import annotations

KEY = "laneway"  # a placeholder: the example config asks for no key


def tool_lines(base_url: str, small_model: str) -> list[tuple[str, str]]:
    """(tool, what to type or set) for a laneway at `base_url` (ending in /v1)."""
    root = base_url.removesuffix("/v1")
    return [
        ("OpenAI SDK", f'OpenAI(base_url="{base_url}", api_key="{KEY}"), model="auto"'),
        ("Anthropic SDK", f'Anthropic(base_url="{root}", api_key="{KEY}"), model="auto"'),
        ("Claude Code", f"ANTHROPIC_BASE_URL={root} ANTHROPIC_AUTH_TOKEN={KEY} "
                        f"ANTHROPIC_MODEL=auto ANTHROPIC_DEFAULT_HAIKU_MODEL={small_model} claude"),
        ("Codex CLI", f'LANEWAY_API_KEY={KEY} codex -c model_provider=laneway -m auto  '
                      f'(+ [model_providers.laneway] base_url = "{base_url}", '
                      f'env_key = "LANEWAY_API_KEY", wire_api = "responses")'),
        ("Qwen Code", f"OPENAI_BASE_URL={base_url} OPENAI_API_KEY={KEY} OPENAI_MODEL=auto qwen"),
        ("aider", f"aider --openai-api-base {base_url} --openai-api-key {KEY} "
                  "--model openai/auto"),
        ("opencode", f'opencode.json: provider.laneway {{"npm": "@ai-sdk/openai-compatible", '
                     f'"options": {{"baseURL": "{base_url}"}}}}, "model": "laneway/auto"'),
        ("Continue / cn", f"config.yaml: provider: openai, apiBase: {base_url}, model: auto "
                          f"(autocomplete: model: {small_model})"),
        ("Cline / Roo Code", f"API provider 'OpenAI Compatible', base URL {base_url}, "
                             "model ID auto"),
        ("Tabby", f'[model.completion.http] kind = "openai/completion", '
                  f'api_endpoint = "{base_url}", model_name = "auto"'),
        ("curl", f"curl {base_url}/chat/completions -H 'content-type: application/json' "
                 """-d '{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}'"""),
    ]
