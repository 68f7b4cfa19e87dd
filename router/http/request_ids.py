"""Request ids: echoed when the caller's is short and plain, else laneway's own."""

from __future__ import annotations

import itertools
import secrets


class RequestIds:
    """16 random hex chars per worker, then a counter (as long as a uuid4's hex, ~0.3 µs
    instead of a getrandom call and a UUID object). The random prefix keeps ids unique
    across workers and replicas: each worker makes its own source once it has started."""

    __slots__ = ("_prefix", "_seq")

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8)
        self._seq = itertools.count()

    def __call__(self, given: str | None) -> str:
        # Echo a caller's id only when it is short and plain: it lands in logs and headers.
        if given and len(given) <= 64 and given.replace("-", "").replace("_", "").isalnum():
            return given
        return f"{self._prefix}{next(self._seq):016x}"
