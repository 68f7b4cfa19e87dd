"""Fault specs: one syntax for the config file, the control API and the x-fleet-fault header.

Header syntax: `key` or `key=value` items separated by `;` or `,`, e.g.
`status=503`, `rate_limit`, `hang`, `cut_stream`, `error_rate=0.3;ttft_ms=800`,
`chunk_delay_ms=200,chunks=5`, `crlf` (SSE framed with CRLF line ends), `cut_mid_event`.
A flag can be switched off with `key=false`, and `none`
switches off every fault inherited from the config file or the control API.

Every field is optional (None = "not set here") so that specs from the config file, the
control API and the header can be layered, the later one winning field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class FaultSpec:
    status: int | None = None  # answer with this HTTP error status
    rate_limit: bool | None = None  # 429 with retry-after: 1
    hang: bool | None = None  # never answer; wait for the client to go away
    slow_stream: bool | None = None  # 250 ms between chunks unless chunk_delay_ms is set
    cut_stream: bool | None = None  # stop mid-way, no [DONE], connection closed
    cut_after: int | None = None  # chunks sent before the cut (default: half of them)
    stream_error: bool | None = None  # mid-stream `data: {"error": ...}`, no [DONE]
    error_rate: float | None = None  # probability of a 500 (or `status`) per request
    ttft_ms: float | None = None  # overrides the profile's time to first token
    tokens_per_s: float | None = None  # overrides the profile's speed
    chunk_delay_ms: float | None = None  # fixed pause between chunks
    chunks: int | None = None  # split the answer into exactly this many chunks
    retry_after: float | None = None  # retry-after seconds sent with 429 (default 1)
    crlf: bool | None = None  # SSE lines end with `\r\n` (as some servers frame them)
    cut_mid_event: bool | None = None  # the cut falls inside an event: half a line, then close
    answer_bytes: int | None = None  # pad the answer with this many bytes (a `padding`
    # field of a plain answer, a comment line in a stream)

    def merged(self, other: FaultSpec | None) -> FaultSpec:
        """This spec with every field that `other` sets taken from `other`."""
        if other is None:
            return self
        changes = {
            f.name: getattr(other, f.name)
            for f in fields(other)
            if getattr(other, f.name) is not None
        }
        return replace(self, **changes) if changes else self

    def as_dict(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }

    def is_empty(self) -> bool:
        return self is NO_FAULT or self == NO_FAULT


NO_FAULT = FaultSpec()

# Explicitly off: what `none` in a header stands for (overrides inherited faults).
ALL_OFF = FaultSpec(
    status=0, rate_limit=False, hang=False, slow_stream=False, cut_stream=False,
    stream_error=False, error_rate=0.0,
)


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _rate(value: str) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    return rate


def _non_negative(kind: Callable[[str], float | int]) -> Callable[[str], float | int]:
    def parse(value: str) -> float | int:
        number = kind(value)
        if number < 0:
            raise ValueError(f"must not be negative: {value!r}")
        return number

    return parse


def _status(value: str) -> int:
    code = int(value)
    if code != 0 and not 400 <= code <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    return code


_PARSERS: dict[str, Callable[[str], Any]] = {
    "status": _status,
    "rate_limit": _bool,
    "hang": _bool,
    "slow_stream": _bool,
    "cut_stream": _bool,
    "cut_after": _non_negative(int),
    "stream_error": _bool,
    "error_rate": _rate,
    "ttft_ms": _non_negative(float),
    "tokens_per_s": _non_negative(float),
    "chunk_delay_ms": _non_negative(float),
    "chunks": _non_negative(int),
    "retry_after": _non_negative(float),
    "crlf": _bool,
    "cut_mid_event": _bool,
    "answer_bytes": _non_negative(int),
}


def _apply(values: dict[str, Any], key: str, raw: str) -> None:
    key = key.strip().lower()
    parser = _PARSERS.get(key)
    if parser is None:
        raise ValueError(f"unknown fault key {key!r}; known: none, {', '.join(_PARSERS)}")
    values[key] = parser(raw)
    if key in ("cut_after", "cut_mid_event") and values[key] is not False:
        values.setdefault("cut_stream", True)
    if key == "chunks" and values[key] == 0:
        raise ValueError("chunks must be at least 1")


def parse_fault(text: str) -> FaultSpec:
    """Parse the header syntax; raises ValueError with a readable message."""
    values: dict[str, Any] = {}
    spec = NO_FAULT
    for item in text.replace(",", ";").split(";"):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        if key.strip().lower() == "none" and not sep:
            spec = ALL_OFF
            continue
        if key.strip().lower() == "cut_stream" and sep and raw.strip().isdigit():
            # `cut_stream=3` is shorthand for "cut after 3 chunks".
            _apply(values, "cut_after", raw)
            continue
        _apply(values, key, raw if sep else "")
    return spec.merged(FaultSpec(**values))


def fault_from_mapping(raw: Mapping[str, Any]) -> FaultSpec:
    """The control API / config mapping form: same keys as the header, typed values."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "model":
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        _apply(values, str(key), str(value))
    return FaultSpec(**values)


def fault_from_config(raw: Any) -> FaultSpec:
    if raw is None:
        return NO_FAULT
    if isinstance(raw, str):
        return parse_fault(raw)
    if isinstance(raw, Mapping):
        return fault_from_mapping(raw)
    raise ValueError("expected a header-style string or a mapping")
