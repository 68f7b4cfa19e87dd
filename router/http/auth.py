"""Who is calling: a Bearer key from `server.api_keys` names the tenant."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from router.config import Config
from router.errors import AuthenticationFailed

ANONYMOUS = "anonymous"
# Authorization headers remembered after a successful check. Only valid keys get in, so a
# flood of wrong keys cannot grow it; spellings of valid keys ("bearer", extra spaces) are
# bounded by clearing it when full. Each is kept as a 16-byte keyed digest, never the
# header itself: a 4 KiB spelling costs what a short one does.
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
        self._recent: dict[bytes, str] = {}
        self._salt = secrets.token_bytes(16)  # per ring: digests say nothing outside it

    def tenant(self, authorization: str | None) -> str:
        if not self.required:
            return ANONYMOUS
        seen = None
        if authorization is not None:
            seen = self._digest(authorization)
            known = self._recent.get(seen)
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
        assert seen is not None
        self._recent[seen] = found
        return found

    def _digest(self, authorization: str) -> bytes:
        return hashlib.blake2b(authorization.encode("utf-8", "surrogatepass"), digest_size=16,
                               key=self._salt).digest()
