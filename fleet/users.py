"""Simulated users who accept completions, with per-model and per-scope probabilities.

Bigger coders are accepted more, with diminishing returns (a 7B coder is nearly as good as
a 14B one at finishing a line), and multi-line blocks less often than line endings; the
rates sit in the published range (Copilot ~27%, Google 25-34%, Meta ~22%). A user's draw
is seeded by (seed, completion), so a run is reproducible and two runs that show the same
completion to the same user get the same verdict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

# Probability that a completion is accepted, by model and scope.
ACCEPTANCE: Mapping[str, Mapping[str, float]] = {
    "qwen3-coder-1.5b": {"line": 0.24, "block": 0.12},
    "qwen3-coder-7b": {"line": 0.35, "block": 0.27},
    "qwen3-14b": {"line": 0.35, "block": 0.28},
    "qwen3-235b-a22b": {"line": 0.37, "block": 0.31},
}
UNKNOWN = {"line": 0.25, "block": 0.15}


@dataclass(frozen=True, slots=True)
class Users:
    seed: int = 7
    rates: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: ACCEPTANCE)

    def probability(self, model: str, scope: str) -> float:
        by_scope = self.rates.get(model, UNKNOWN)
        return by_scope.get(scope, by_scope["block"])

    def accepts(self, model: str, scope: str, completion: str) -> bool:
        """Does the user take this completion? Deterministic per (seed, completion)."""
        digest = hashlib.blake2b(f"{self.seed}:{completion}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0**64 < self.probability(model, scope)
