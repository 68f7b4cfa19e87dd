import textwrap
from pathlib import Path

import pytest

from router.config import ConfigError, load, parse, tenant_id

# The contract's sample, verbatim (long comment lines included).
CONTRACT_SAMPLE = textwrap.dedent(
    """
    server:
      api_keys:                           # optional; when set, requests need a key; a bare key is its own tenant
        - "sk-team-b"
        - key: env:LANEWAY_KEY_TEAM_A
          team: team-a                    # keys of one team share its tenant, budget and limits
          budget: {usd: 50, period: month}  # day | week | month; spent -> 429 insufficient_quota
          models: [fast-coder, mid-chat]  # optional: others -> 403 permission_error; auto stays within
          rpm: 600                        # optional per-team limits: rpm, tpm
      admin_keys: ["env:LANEWAY_ADMIN_KEY"]  # optional: may read every team's spend
      max_body_bytes: 8388608
    redis:
      url: redis://127.0.0.1:6379/0      # optional; absent = in-process cache only
    policy: default                       # a file in policies/, or a path
    models:
      - name: fast-coder                  # what clients pin; sent upstream unless upstream_model is set
        api_base: http://127.0.0.1:9100/v1
        api_key: env:UPSTREAM_KEY         # optional; env:NAME reads the environment
        provider: openai                  # default: any OpenAI-compatible server (vLLM, SGLang, Ollama,
                                          # DashScope compatible mode, OpenAI); anthropic: any server
                                          # speaking the Messages API; other providers go through litellm
        upstream_model: qwen2.5-coder-1.5b-instruct   # optional
        tier: small                       # small | medium | large
        lanes: [completion]
        context_window: 32768
        price_per_mtok: {input: 0.05, output: 0.20}  # USD per million tokens
        fim: qwen                         # qwen | starcoder | codellama | deepseek | codestral | suffix;
                                          # absent: FIM prompts go upstream in the family the client wrote
    """
)


def test_contract_sample_is_accepted_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LANEWAY_KEY_TEAM_A", "sk-team-a")
    monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream")
    monkeypatch.setenv("LANEWAY_ADMIN_KEY", "sk-admin")
    f = tmp_path / "laneway.yaml"
    f.write_text(CONTRACT_SAMPLE)
    cfg = load(f)
    (m,) = cfg.models
    assert m.upstream_model == "qwen2.5-coder-1.5b-instruct"
    assert m.api_key is not None and m.api_key.reveal() == "sk-upstream"
    assert m.fim == "qwen" and m.lanes == {"completion"}
    assert len(cfg.tenants) == 2
    assert "sk-team-a" not in repr(cfg.tenants) and "sk-upstream" not in repr(cfg.models)
    team = cfg.teams["team-a"]
    assert team.budget is not None and (team.budget.usd, team.budget.period) == (50, "month")
    assert team.models == {"fast-coder", "mid-chat"} and team.rpm == 600
    assert {t.id for t in cfg.tenants} == {"team-a", tenant_id("sk-team-b")}
    assert len(cfg.admin_keys) == 1 and "sk-admin" not in repr(cfg.admin_keys)
    # The sample's team names a model the sample does not configure: a warning, not an error.
    assert any("mid-chat" in w for w in cfg.warnings)


def test_unset_env_secret_is_a_warning_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.delenv("LANEWAY_KEY_TEAM_A", raising=False)
    monkeypatch.delenv("UPSTREAM_KEY", raising=False)
    f = tmp_path / "c.yaml"
    f.write_text(CONTRACT_SAMPLE)
    cfg = load(f)
    assert len(cfg.tenants) == 1
    assert any("LANEWAY_KEY_TEAM_A" in w for w in cfg.warnings)


def test_unknown_key_is_named_with_its_path():
    data = {"models": [{"name": "a", "api_base": "http://x/v1", "temprature": 1}]}
    with pytest.raises(ConfigError, match=r"models\[0\]\.temprature"):
        parse(data)


def test_unknown_top_level_and_nested_section_keys():
    with pytest.raises(ConfigError, match=r"server\.max_body"):
        parse({"server": {"max_body": 1}, "models": [{"name": "a", "api_base": "http://x"}]})


def test_bad_values_and_duplicates_rejected():
    with pytest.raises(ConfigError, match="tier"):
        parse({"models": [{"name": "a", "api_base": "http://x", "tier": "huge"}]})
    with pytest.raises(ConfigError, match="duplicate"):
        parse({"models": [{"name": "a", "api_base": "http://x"}] * 2})
    with pytest.raises(ConfigError, match="reserved"):
        parse({"models": [{"name": "auto", "api_base": "http://x"}]})
    with pytest.raises(ConfigError, match="fallbacks"):
        parse({"models": [{"name": "a", "api_base": "http://x", "fallbacks": ["b"]}]})
