"""Model profiles and fleet settings (built-in Qwen3-like family plus an optional YAML file).

A profile says how a simulated model behaves: how long until the first token, how fast it
streams, which FIM family it understands, whether it takes tools and how big its context
is. Prices are carried only so the config file documents a realistic fleet; the server
never bills anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import yaml

from fleet.faults import FaultSpec, fault_from_config

FIM_FAMILIES = ("any", "none", "qwen", "starcoder", "codellama", "deepseek", "codestral", "suffix")


@dataclass(frozen=True, slots=True)
class ModelProfile:
    name: str
    tier: str = "default"
    ttft_ms: float = 20.0
    tokens_per_s: float = 500.0
    # Relative spread of TTFT and speed per request (0.1 = +-10%), seeded by the request.
    jitter: float = 0.1
    context_window: int = 32768
    # "any" accepts every FIM family; a named family makes other families a 400, which
    # lets proxy tests check that FIM prompts were re-rendered for the chosen model.
    fim: str = "any"
    tools: bool = True
    price_input_per_mtok: float = 0.0
    price_output_per_mtok: float = 0.0
    aliases: tuple[str, ...] = ()


# Unknown names get a fast, roomy profile: tests pinning arbitrary names should not trip
# over a context limit they never configured.
DEFAULT_PROFILE = ModelProfile(name="default", context_window=131072)

BUILTIN_PROFILES: tuple[ModelProfile, ...] = (
    ModelProfile(
        name="qwen3-coder-1.5b", tier="small", ttft_ms=40, tokens_per_s=300,
        price_input_per_mtok=0.05, price_output_per_mtok=0.20,
    ),
    ModelProfile(
        name="qwen3-14b", tier="medium", ttft_ms=250, tokens_per_s=90,
        context_window=131072, price_input_per_mtok=0.35, price_output_per_mtok=1.40,
    ),
    ModelProfile(
        name="qwen3-235b-a22b", tier="large", ttft_ms=900, tokens_per_s=35,
        context_window=131072, price_input_per_mtok=0.70, price_output_per_mtok=2.80,
    ),
)


@dataclass(frozen=True, slots=True)
class FleetSettings:
    profiles: Mapping[str, ModelProfile] = field(
        default_factory=lambda: {p.name: p for p in BUILTIN_PROFILES}
    )
    default_profile: ModelProfile = DEFAULT_PROFILE
    # Per-model default faults from the config file; "*" applies to every model.
    faults: Mapping[str, FaultSpec] = field(default_factory=dict)
    require_api_key: str | None = None
    zero_latency: bool = False
    # Seeds the fleet-wide random stream used for error_rate decisions.
    seed: int = 0
    # The request log is a ring: load tests must not grow memory without bound.
    log_limit: int = 10000
    # Bodies kept in that log, in bytes; past it the oldest bodies are dropped.
    log_body_bytes: int = 256 * 1024 * 1024

    def profile_for(self, model: str) -> ModelProfile:
        found = self.profiles.get(model) or self.profiles.get(model.lower())
        if found is not None:
            return found
        for profile in self.profiles.values():
            if model in profile.aliases or model.lower() in profile.aliases:
                return profile
        return replace(self.default_profile, name=model)


def jittered_timing(profile: ModelProfile, seed: int) -> tuple[float, float]:
    """(TTFT seconds, seconds per token) for one request, deterministic in its seed."""
    digest = hashlib.blake2b(seed.to_bytes(16, "little", signed=False), digest_size=4).digest()
    a = digest[0] / 127.5 - 1.0  # in [-1, 1]
    b = digest[1] / 127.5 - 1.0
    ttft = max(0.0, profile.ttft_ms * (1.0 + profile.jitter * a)) / 1000.0
    tps = max(1e-3, profile.tokens_per_s * (1.0 + profile.jitter * b))
    return ttft, 1.0 / tps


class ConfigError(ValueError):
    """A fleet config file that does not match the documented format."""


_TOP_KEYS = {
    "require_api_key", "zero_latency", "seed", "log_limit", "log_body_bytes", "default",
    "models", "faults",
}
_PROFILE_KEYS = {
    "tier", "ttft_ms", "tokens_per_s", "jitter", "context_window", "fim", "tools",
    "price_per_mtok", "aliases",
}


def _profile_from_config(base: ModelProfile, raw: Any, where: str) -> ModelProfile:
    if raw is None:
        return base
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    unknown = set(raw) - _PROFILE_KEYS
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key")
    changes: dict[str, Any] = {}
    try:
        for key in ("ttft_ms", "tokens_per_s", "jitter"):
            if key in raw:
                changes[key] = float(raw[key])
        if "context_window" in raw:
            changes["context_window"] = int(raw["context_window"])
        if "tier" in raw:
            changes["tier"] = str(raw["tier"])
        if "tools" in raw:
            changes["tools"] = bool(raw["tools"])
        if "aliases" in raw:
            changes["aliases"] = tuple(str(a) for a in raw["aliases"])
        price = raw.get("price_per_mtok")
        if price is not None:
            if not isinstance(price, dict) or set(price) - {"input", "output"}:
                raise ConfigError(f"{where}.price_per_mtok: expected {{input, output}}")
            changes["price_input_per_mtok"] = float(price.get("input", 0.0))
            changes["price_output_per_mtok"] = float(price.get("output", 0.0))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{where}: {exc}") from exc
    if "fim" in raw:
        fim = str(raw["fim"])
        if fim not in FIM_FAMILIES:
            raise ConfigError(f"{where}.fim: expected one of {', '.join(FIM_FAMILIES)}")
        changes["fim"] = fim
    if changes.get("tokens_per_s", 1.0) <= 0:
        raise ConfigError(f"{where}.tokens_per_s: must be positive")
    return replace(base, **changes)


def settings_from_mapping(raw: Mapping[str, Any], zero_latency: bool = False) -> FleetSettings:
    """Build settings from an already-parsed config mapping (the YAML file's content)."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"{sorted(unknown)[0]}: unknown key")
    builtins = {p.name: p for p in BUILTIN_PROFILES}
    default = _profile_from_config(DEFAULT_PROFILE, raw.get("default"), "default")
    profiles = dict(builtins)
    models = raw.get("models") or {}
    if not isinstance(models, dict):
        raise ConfigError("models: expected a mapping of model name to profile")
    for name, spec in models.items():
        # A built-in name overrides only the fields given; a new name starts from `default`.
        base = builtins.get(str(name), replace(default, name=str(name)))
        profiles[str(name)] = _profile_from_config(base, spec, f"models.{name}")
    faults_raw = raw.get("faults") or {}
    if not isinstance(faults_raw, dict):
        raise ConfigError("faults: expected a mapping of model name to fault spec")
    faults: dict[str, FaultSpec] = {}
    for name, spec in faults_raw.items():
        try:
            faults[str(name)] = fault_from_config(spec)
        except ValueError as exc:
            raise ConfigError(f"faults.{name}: {exc}") from exc
    key = raw.get("require_api_key")
    return FleetSettings(
        profiles=profiles,
        default_profile=default,
        faults=faults,
        require_api_key=str(key) if key else None,
        zero_latency=zero_latency or bool(raw.get("zero_latency", False)),
        seed=int(raw.get("seed", 0)),
        log_limit=max(1, int(raw.get("log_limit", 10000))),
        log_body_bytes=max(0, int(raw.get("log_body_bytes", 256 * 1024 * 1024))),
    )


def load_settings(config_path: str | None, zero_latency: bool) -> FleetSettings:
    """Settings from a YAML file (or the built-ins when no path is given)."""
    if config_path is None:
        return FleetSettings(zero_latency=zero_latency)
    with open(config_path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level")
    return settings_from_mapping(raw, zero_latency=zero_latency)


def profile_as_dict(profile: ModelProfile) -> dict[str, Any]:
    return {f.name: getattr(profile, f.name) for f in fields(profile)}
