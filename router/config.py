"""Configuration: strict pydantic models (unknown keys are errors), then runtime objects.

Loaded in two steps, raw -> runtime: the raw models mirror the YAML; `load()` resolves
`env:NAME` secrets and turns models into immutable `ModelSpec`s.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from policies.catalog import ModelSpec, Secret, Tier
from policies.experiments import ExperimentConfig
from policies.policy import read_yaml, validation_errors

LaneName = Literal["completion", "qa", "agentic"]
LANES: tuple[LaneName, ...] = ("completion", "qa", "agentic")
FIM_FAMILIES = ("qwen", "starcoder", "codellama", "deepseek", "codestral", "suffix")


class ConfigError(Exception):
    """A config that cannot be served; the message names the offending key's path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitSection(_Strict):
    requests_per_minute: int | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, gt=0)


class LimitsSection(LimitSection):
    """Per API key (tenant). `keys` overrides, keyed by the `api_keys` entry as written."""

    keys: dict[str, LimitSection] = Field(default_factory=dict)


class ServerSection(_Strict):
    api_keys: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    log_prompts: bool = False
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    limits: LimitsSection = Field(default_factory=LimitsSection)

    @model_validator(mode="after")
    def _known_limit_keys(self) -> ServerSection:
        unknown = sorted(set(self.limits.keys) - set(self.api_keys))
        if unknown:
            raise ValueError(f"limits.keys: not entries of api_keys: {len(unknown)} given")
        return self


class RedisSection(_Strict):
    url: str | None = None
    cluster: bool = False
    timeout_ms: int = Field(default=50, gt=0)


class PriceSection(_Strict):
    input: float = Field(default=0.0, ge=0)
    output: float = Field(default=0.0, ge=0)


class ModelSection(_Strict):
    name: str = Field(min_length=1)
    api_base: str = Field(min_length=1)
    api_key: str | None = None
    provider: str = "openai"
    upstream_model: str | None = None
    tier: Literal["small", "medium", "large"] = "medium"
    lanes: list[LaneName] = Field(default_factory=lambda: list(LANES))
    context_window: int = Field(default=32768, gt=0)
    price_per_mtok: PriceSection = Field(default_factory=PriceSection)
    fim: Literal["qwen", "starcoder", "codellama", "deepseek", "codestral", "suffix"] | None = None
    fallbacks: list[str] = Field(default_factory=list)
    supports_tools: bool = True
    supports_suffix: bool = True
    timeout_s: float | None = Field(default=None, gt=0)

    @field_validator("api_base")
    @classmethod
    def _http_only(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("api_base must start with http:// or https://")
        return v.rstrip("/")


class RawConfig(_Strict):
    server: ServerSection = Field(default_factory=ServerSection)
    redis: RedisSection = Field(default_factory=RedisSection)
    policy: str = "default"
    models: list[ModelSection] = Field(min_length=1)
    experiments: list[ExperimentConfig] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Tenant:
    """A client key's identity: a stable id derived from the key, never the key itself."""

    id: str
    key: Secret
    # The `api_keys` entry as written ("env:TEAM_A_KEY", or a literal key: kept out of repr).
    entry: str = field(default="", repr=False)


@dataclass(frozen=True)
class Config:
    raw: RawConfig
    models: tuple[ModelSpec, ...]
    tenants: tuple[Tenant, ...]
    source: str
    warnings: tuple[str, ...] = ()
    by_name: dict[str, ModelSpec] = field(default_factory=dict)

    @property
    def auth_required(self) -> bool:
        return bool(self.raw.server.api_keys)


def tenant_id(key: str) -> str:
    return "t-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _resolve(value: str, where: str, warnings: list[str]) -> str | None:
    if not value.startswith("env:"):
        return value
    name = value[4:]
    resolved = os.environ.get(name)
    if not resolved:
        warnings.append(f"{where}: environment variable {name} is not set")
        return None
    return resolved


def parse(data: Any, source: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping at the top level")
    try:
        raw = RawConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid config{validation_errors(exc)}") from None
    warnings: list[str] = []
    names = [m.name for m in raw.models]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: models: duplicate names {dupes}")
    if "auto" in names:
        raise ConfigError(f"{source}: models: 'auto' is reserved for routing")
    models = []
    for i, m in enumerate(raw.models):
        for fb in m.fallbacks:
            if fb not in names:
                raise ConfigError(f"{source}: models[{i}].fallbacks: unknown model {fb!r}")
        key = _resolve(m.api_key, f"models[{i}].api_key", warnings) if m.api_key else None
        models.append(
            ModelSpec(
                name=m.name,
                api_base=m.api_base,
                provider=m.provider,
                upstream_model=m.upstream_model or m.name,
                tier=Tier[m.tier.upper()],
                lanes=frozenset(m.lanes),
                context_window=m.context_window,
                price_input=m.price_per_mtok.input,
                price_output=m.price_per_mtok.output,
                fim=m.fim,
                api_key=Secret(key) if key else None,
                fallbacks=tuple(m.fallbacks),
                supports_tools=m.supports_tools,
                supports_suffix=m.supports_suffix,
                timeout_s=m.timeout_s,
            )
        )
    tenants = []
    for i, k in enumerate(raw.server.api_keys):
        key = _resolve(k, f"server.api_keys[{i}]", warnings)
        if key:
            tenants.append(Tenant(id=tenant_id(key), key=Secret(key), entry=k))
    if raw.server.api_keys and not tenants:
        # Keys were asked for but none resolved: refuse to serve open rather than fail open.
        warnings.append("server.api_keys: no key resolved; every request will be refused")
    for lane in LANES:
        if not any(lane in m.lanes for m in models):
            warnings.append(f"models: no model serves lane {lane!r}; such requests get 503")
    _check_experiments(raw, names, source)
    return Config(
        raw=raw,
        models=tuple(models),
        tenants=tuple(tenants),
        source=source,
        warnings=tuple(warnings),
        by_name={m.name: m for m in models},
    )


def _check_experiments(raw: RawConfig, names: list[str], source: str) -> None:
    seen: set[str] = set()
    for i, e in enumerate(raw.experiments):
        if e.name in seen:
            raise ConfigError(f"{source}: experiments[{i}].name: duplicate experiment {e.name!r}")
        seen.add(e.name)
        for j, arm in enumerate(e.arms):
            if arm.model is not None and arm.model not in names:
                raise ConfigError(
                    f"{source}: experiments[{i}].arms[{j}].model: unknown model {arm.model!r}"
                )
    lanes = [e.lane for e in raw.experiments]
    if len(set(lanes)) != len(lanes):
        # A request has one arm: two experiments on one lane would both claim it.
        raise ConfigError(f"{source}: experiments: at most one experiment per lane")


def load(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    return parse(read_yaml(p, "config", ConfigError), str(p))
