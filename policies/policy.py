"""Routing policies: per-lane objectives, latency targets, budgets, cache and timeouts.

A policy file (`policies/<name>.yaml` or any path) lists only what differs from the
contract's defaults; it is deep-merged over `DEFAULTS` and then validated strictly
(unknown keys are errors naming their path), like the config. The result is immutable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

POLICY_DIR = Path(__file__).parent
LANE_NAMES = ("completion", "qa", "agentic")
Objective = Literal["cheapest", "fastest", "best_quality"]


class PolicyError(Exception):
    """A policy that cannot be used; the message names the file and the offending key path."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CachePolicy(_Strict):
    enabled: bool
    ttl_s: int = Field(ge=0)
    # Answers are cached only when the request's temperature is at most this.
    max_temperature: float = Field(ge=0)
    typeahead: bool = False


class Timeouts(_Strict):
    connect_s: float = Field(gt=0)
    ttft_s: float = Field(gt=0)
    idle_s: float = Field(gt=0)  # longest silence between two chunks of a stream
    total_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> Timeouts:
        if self.ttft_s > self.total_s:
            raise ValueError("ttft_s must not exceed total_s")
        return self


class LanePolicy(_Strict):
    objective: Objective
    ttft_target_ms: int = Field(gt=0)
    input_tokens: int | None = Field(gt=0)  # None: the chosen model's context window
    prefix_share: float = Field(default=0.75, gt=0, lt=1)  # FIM budget split prefix/suffix
    max_output_tokens: int | None = Field(gt=0)  # None: whatever the client asks for
    # Expected answer length, only for predicting cost when the request doesn't say.
    expected_output_tokens: int = Field(gt=0)
    tool_output_tokens: int = Field(default=8192, gt=0)
    scope: bool = True  # completions: stop at the end of the line/block being written
    affinity: bool = False  # keep a conversation on one model while it is healthy
    cache: CachePolicy
    timeouts: Timeouts
    # Re-probing a model avoided for latency: at most this share of the lane's requests,
    # and at least this far apart, so a recovered model can win its traffic back.
    probe_share: float = Field(default=0.05, ge=0, le=1)
    probe_interval_s: float = Field(default=10.0, ge=0)
    # Acceptance-aware choice (completions): another candidate within target replaces the
    # cheapest only when its acceptance is higher by more than this, at 95% confidence
    # (an always-valid interval, so checking on every request cannot make it flap).
    # None: acceptance is not used for this lane.
    acceptance_margin: float | None = Field(default=None, ge=0, le=1)
    # Share of the lane's requests sent to another candidate so its acceptance stays measured.
    explore: float = Field(default=0.0, ge=0, le=0.5)


class BreakerPolicy(_Strict):
    failures: int = Field(default=3, ge=1)  # consecutive failures that eject a model
    cooldown_s: float = Field(default=5.0, gt=0)  # first ejection; doubles while it keeps failing
    max_cooldown_s: float = Field(default=300.0, gt=0)
    # A half-open model gets one trial request; if no result arrives in this time
    # (e.g. the trial was never sent), another request may try it.
    trial_timeout_s: float = Field(default=30.0, gt=0)


class Policy(_Strict):
    name: str = Field(min_length=1)
    completion: LanePolicy
    qa: LanePolicy
    agentic: LanePolicy
    breaker: BreakerPolicy = Field(default_factory=BreakerPolicy)

    def lane(self, lane: str) -> LanePolicy:
        if lane not in LANE_NAMES:
            raise KeyError(f"unknown lane {lane!r}")
        result: LanePolicy = getattr(self, lane)
        return result


# The contract's defaults (contract.md, "Policies"). policies/default.yaml spells them out
# in full; a test keeps the two equal.
DEFAULTS: Mapping[str, Any] = {
    "completion": {
        "objective": "cheapest",
        "ttft_target_ms": 300,
        "input_tokens": 4096,
        "max_output_tokens": 256,
        "expected_output_tokens": 64,
        "acceptance_margin": 0.02,
        "explore": 0.05,
        "cache": {"enabled": True, "ttl_s": 600, "max_temperature": 0.3, "typeahead": True},
        "timeouts": {"connect_s": 1, "ttft_s": 3, "idle_s": 5, "total_s": 30},
    },
    "qa": {
        "objective": "cheapest",
        "ttft_target_ms": 2000,
        "input_tokens": 16384,
        "max_output_tokens": None,
        "expected_output_tokens": 512,
        "cache": {"enabled": True, "ttl_s": 3600, "max_temperature": 0.0},
        "timeouts": {"connect_s": 2, "ttft_s": 20, "idle_s": 30, "total_s": 300},
    },
    "agentic": {
        "objective": "best_quality",
        "ttft_target_ms": 8000,
        "input_tokens": None,
        "max_output_tokens": None,
        "expected_output_tokens": 1024,
        "tool_output_tokens": 8192,
        "affinity": True,
        "cache": {"enabled": False, "ttl_s": 0, "max_temperature": 0.0},
        "timeouts": {"connect_s": 5, "ttft_s": 60, "idle_s": 60, "total_s": 900},
    },
}


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        # Only mappings merge; anything else replaces, so a wrong type still reaches
        # validation and gets reported at its own path.
        both = isinstance(old, Mapping) and isinstance(value, Mapping)
        out[key] = _merge(old, value) if both else value  # type: ignore[arg-type]
    return out


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(root)"


def validation_errors(exc: ValidationError) -> str:
    """A pydantic error as indented `path: message` lines (the config's loader uses it too)."""
    return "\n  " + "\n  ".join(
        f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)
    )


def read_yaml(path: Path, what: str, error: type[Exception]) -> Any:
    """A YAML file's data; `error` (naming the file) when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None


def parse_policy(data: Any, name: str, source: str = "<policy>") -> Policy:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise PolicyError(f"{source}: a policy must be a mapping at the top level")
    merged = _merge(DEFAULTS, {"name": name, **data})
    try:
        return Policy.model_validate(merged)
    except ValidationError as exc:
        raise PolicyError(f"{source}: invalid policy{validation_errors(exc)}") from None


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def available() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.yaml"))


def resolve(name_or_path: str, base_dir: Path | None = None) -> Path:
    """A bare name is a file in policies/; anything else is a path (relative to base_dir,
    normally the config file's directory, else the working directory)."""
    if _NAME.fullmatch(name_or_path):
        path = POLICY_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise PolicyError(
                f"policy: no policy named {name_or_path!r}; available: {', '.join(available())}"
            )
        return path
    path = Path(name_or_path).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


def load_policy(name_or_path: str, base_dir: Path | None = None) -> Policy:
    path = resolve(name_or_path, base_dir)
    data = read_yaml(path, "policy", PolicyError)
    return parse_policy(data, name=path.stem, source=str(path))
