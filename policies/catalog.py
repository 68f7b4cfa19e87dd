"""The configured models, as decisions see them: immutable runtime objects built from config."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Tier(enum.IntEnum):
    # Ordered so that "largest tier" is a max() over the enum value.
    SMALL = 1
    MEDIUM = 2
    LARGE = 3


class Secret:
    """A credential that never prints itself: repr/str show a mask, so no log or error leaks it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    api_base: str
    provider: str
    upstream_model: str
    tier: Tier
    lanes: frozenset[str]
    context_window: int
    price_input: float  # USD per million input tokens
    price_output: float  # USD per million output tokens
    fim: str | None
    api_key: Secret | None = None
    fallbacks: tuple[str, ...] = ()
    supports_tools: bool = True
    supports_suffix: bool = True
    timeout_s: float | None = None
    extra_fields: frozenset[str] = frozenset()  # request fields it takes beyond its API's
    price_cached_input: float | None = None  # USD per million cache-read tokens; None: input

    @property
    def openai_compatible(self) -> bool:
        return self.provider == "openai"

    @property
    def speaks_messages(self) -> bool:
        """Anthropic's Messages API, spoken natively (not through litellm)."""
        return self.provider == "anthropic"

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """`input_tokens` counts every input token; `cached_tokens` of them were read from
        the upstream's prompt cache (cache writes are priced as input)."""
        cached_price = self.price_input if self.price_cached_input is None else (
            self.price_cached_input)
        return ((input_tokens - cached_tokens) * self.price_input + cached_tokens * cached_price
                + output_tokens * self.price_output) / 1e6
