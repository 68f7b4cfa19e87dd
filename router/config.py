"""Configuration: strict pydantic models (unknown keys are errors), then runtime objects.

Loaded in two steps, raw -> runtime: the raw models mirror the YAML; `load()` resolves
`env:NAME` secrets and turns models into immutable `ModelSpec`s.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import hmac
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
from router.limits.budget import BARE_TENANT, TEAM_NAME, Budget, Team

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


class BudgetSection(_Strict):
    usd: float = Field(gt=0)
    period: Literal["day", "week", "month"] = "month"


class KeySection(_Strict):
    """An `api_keys` entry: a bare key (written as a string: its own tenant), or a key of a
    team (the team's keys share one tenant, budget, model list and limits)."""

    key: str = Field(min_length=1)
    team: str | None = None
    budget: BudgetSection | None = None
    models: list[str] | None = None
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, v: Any) -> Any:
        return {"key": v} if isinstance(v, str) else v

    @field_validator("team")
    @classmethod
    def _team_name(cls, v: str | None) -> str | None:
        if v is not None and (not TEAM_NAME.match(v) or BARE_TENANT.match(v)
                              or v == "anonymous"):
            raise ValueError("a team name is 1-64 letters, digits, '.', '_' or '-' "
                             "(not 'anonymous', not shaped like a bare key's id t-<12 hex>)")
        return v

    @model_validator(mode="after")
    def _team_settings_need_a_team(self) -> KeySection:
        if self.team is None and (self.budget or self.models is not None or self.rpm
                                  or self.tpm):
            raise ValueError("budget, models, rpm and tpm are a team's: set `team`")
        return self


class ServerSection(_Strict):
    api_keys: list[KeySection] = Field(default_factory=list)
    admin_keys: list[str] = Field(default_factory=list)
    # The HMAC key naming bare keys' tenants; every replica must have the same one.
    tenant_secret: str | None = None
    budget_fail: Literal["open", "closed"] = "open"  # when Redis cannot check a budget
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_answer_bytes: int = Field(default=32 * 1024 * 1024, gt=0)  # a non-streamed answer
    log_prompts: bool = False
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    limits: LimitsSection = Field(default_factory=LimitsSection)

    @model_validator(mode="after")
    def _known_limit_keys(self) -> ServerSection:
        entries = {k.key for k in self.api_keys}
        unknown = sorted(set(self.limits.keys) - entries)
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
    cached_input: float | None = Field(default=None, ge=0)  # cache reads; absent: input


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
    # Request fields this model's server takes beyond its API's own (which laneway drops).
    extra_fields: list[str] = Field(default_factory=list)

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
    # Client model names (glob patterns) -> a configured model or `auto`; the most specific
    # (longest) matching pattern wins, so the order of the mapping never matters.
    aliases: dict[str, str] = Field(default_factory=dict)
    experiments: list[ExperimentConfig] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Tenant:
    """A client key's identity: a stable id derived from the key, never the key itself."""

    id: str
    key: Secret
    # The `api_keys` entry as written ("env:TEAM_A_KEY", or a literal key: kept out of repr).
    entry: str = field(default="", repr=False)
    team: str | None = None  # a team key's tenant id is its team's name


@dataclass(frozen=True)
class Config:
    raw: RawConfig
    models: tuple[ModelSpec, ...]
    tenants: tuple[Tenant, ...]
    source: str
    warnings: tuple[str, ...] = ()
    by_name: dict[str, ModelSpec] = field(default_factory=dict)
    extra_fields: frozenset[str] = frozenset()  # every model's `extra_fields`
    teams: dict[str, Team] = field(default_factory=dict)  # by name
    admin_keys: tuple[Secret, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def auth_required(self) -> bool:
        return bool(self.raw.server.api_keys)

    def alias(self, name: str) -> str | None:
        """The model (or `auto`) a client's model name stands for, None when no pattern
        matches. Remembered per name: clients send a handful of names, over and over."""
        return _alias(self.aliases, name) if self.aliases else None


def _specific_first(aliases: dict[str, str]) -> tuple[tuple[str, str], ...]:
    # Longest first: `claude-opus-*` before `claude-*`, whatever order the YAML had.
    return tuple(sorted(aliases.items(), key=lambda kv: -len(kv[0])))


@functools.lru_cache(maxsize=1024)  # bounded: a client may send any name
def _alias(aliases: tuple[tuple[str, str], ...], name: str) -> str | None:
    for pattern, target in aliases:
        if fnmatch.fnmatchcase(name, pattern):
            return target
    return None


# Without `server.tenant_secret` bare keys' ids are keyed with this public label: replicas
# still agree, but an id is then as good as a plain digest of the key (see README).
PUBLIC_TENANT_SECRET = b"laneway tenant id v1"


def tenant_id(key: str, secret: bytes = PUBLIC_TENANT_SECRET) -> str:
    """A bare key's tenant: an HMAC under the deployment's secret, so that an id seen in a
    log line or a metric cannot be checked against guessed keys."""
    return "t-" + hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()[:12]


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
                extra_fields=frozenset(m.extra_fields),
                price_cached_input=m.price_per_mtok.cached_input,
            )
        )
    teams = _teams(raw.server.api_keys, set(names), source, warnings)
    secret = PUBLIC_TENANT_SECRET
    if raw.server.tenant_secret:
        resolved = _resolve(raw.server.tenant_secret, "server.tenant_secret", warnings)
        secret = resolved.encode() if resolved else secret
    if secret is PUBLIC_TENANT_SECRET and any(k.team is None for k in raw.server.api_keys):
        warnings.append("server.tenant_secret is not set: bare keys' tenant ids are public "
                        "digests of the keys (set it to one random secret for all replicas)")
    tenants = []
    for i, k in enumerate(raw.server.api_keys):
        key = _resolve(k.key, f"server.api_keys[{i}]", warnings)
        if key:
            tid = k.team or tenant_id(key, secret)
            tenants.append(Tenant(id=tid, key=Secret(key), entry=k.key, team=k.team))
    admins = []
    for i, entry in enumerate(raw.server.admin_keys):
        key = _resolve(entry, f"server.admin_keys[{i}]", warnings)
        if key:
            admins.append(Secret(key))
    if raw.server.api_keys and not tenants:
        # Keys were asked for but none resolved: refuse to serve open rather than fail open.
        warnings.append("server.api_keys: no key resolved; every request will be refused")
    for pattern, target in raw.aliases.items():
        if target != "auto" and target not in names:
            raise ConfigError(
                f"{source}: aliases.{pattern}: unknown model {target!r} (a model or 'auto')")
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
        extra_fields=frozenset().union(*(m.extra_fields for m in models)),
        teams=teams,
        admin_keys=tuple(admins),
        aliases=_specific_first(raw.aliases),
    )


def _teams(entries: list[KeySection], models: set[str], source: str, warnings: list[str]
           ) -> dict[str, Team]:
    """One Team per name. A setting may be written on any one of a team's keys (or repeated
    alike on several); two different values would make the team's limits ambiguous."""
    seen: dict[str, dict[str, tuple[int, Any]]] = {}
    for i, k in enumerate(entries):
        if k.team is None:
            continue
        where = f"{source}: server.api_keys[{i}]"
        unknown = sorted(set(k.models or ()) - models)
        if unknown:  # a model may come and go with the fleet; the team's list need not follow
            warnings.append(f"server.api_keys[{i}].models: not configured: {unknown}")
        settings = seen.setdefault(k.team, {})
        for name in ("budget", "models", "rpm", "tpm"):
            value = getattr(k, name)
            if value is None:
                continue
            if name == "models":
                value = frozenset(value)
            first = settings.setdefault(name, (i, value))
            if first[1] != value:
                raise ConfigError(f"{where}.{name}: team {k.team!r} has another {name} "
                                  f"in server.api_keys[{first[0]}]")
    teams = {}
    for team, settings in seen.items():
        values = {name: v for name, (_, v) in settings.items()}
        b = values.get("budget")
        teams[team] = Team(
            team, Budget(b.usd, b.period) if b is not None else None, values.get("models"),
            values.get("rpm"), values.get("tpm"),
        )
    return teams


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
