"""Who is calling: a Bearer key from `server.api_keys` names the tenant."""

from __future__ import annotations

import hashlib
import hmac

from router.config import Config
from router.errors import AuthenticationFailed

ANONYMOUS = "anonymous"


class KeyRing:
    """Compares digests in constant time, so neither a key's bytes nor its length leak."""

    def __init__(self, config: Config) -> None:
        self.required = config.auth_required
        self._digests = [
            (hashlib.sha256(t.key.reveal().encode()).digest(), t.id) for t in config.tenants
        ]

    def tenant(self, authorization: str | None) -> str:
        if not self.required:
            return ANONYMOUS
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise AuthenticationFailed(
                "Missing API key: send it as 'Authorization: Bearer <key>'."
            )
        digest = hashlib.sha256(authorization[7:].strip().encode()).digest()
        found = None
        for known, tenant in self._digests:
            if hmac.compare_digest(known, digest):
                found = tenant
        if found is None:
            raise AuthenticationFailed("Invalid API key.")
        return found
