"""Who is calling: a Bearer key from `server.api_keys` names the tenant."""

from __future__ import annotations

import hashlib
import hmac

from router.config import Config
from router.errors import AuthenticationFailed

ANONYMOUS = "anonymous"
# Authorization headers remembered after a successful check. Only valid keys get in, so a
# flood of wrong keys cannot grow it; spellings of valid keys ("bearer", extra spaces) are
# bounded by clearing it when full.
REMEMBER = 64


class KeyRing:
    """Compares digests in constant time, so neither a key's bytes nor its length leak.

    A header seen with a valid key before is answered from a dict: its lookup compares
    strings only on an equal (randomly keyed) hash, i.e. for the exact header, so its
    timing says nothing about how close a wrong key came. One KeyRing per config: a key
    removed by a reload is forgotten with the old one."""

    def __init__(self, config: Config) -> None:
        self.required = config.auth_required
        self._digests = [
            (hashlib.sha256(t.key.reveal().encode()).digest(), t.id) for t in config.tenants
        ]
        self._recent: dict[str, str] = {}

    def tenant(self, authorization: str | None) -> str:
        if not self.required:
            return ANONYMOUS
        if authorization is not None:
            known = self._recent.get(authorization)
            if known is not None:
                return known
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>'."
            )
        digest = hashlib.sha256(authorization[7:].strip().encode()).digest()
        found = None
        for known_digest, tenant in self._digests:
            if hmac.compare_digest(known_digest, digest):
                found = tenant
        if found is None:
            raise AuthenticationFailed("Invalid API key.")
        if len(self._recent) >= REMEMBER:
            self._recent.clear()
        self._recent[authorization] = found
        return found
