"""KeyRing: which key names which tenant, including keys it has seen before."""

from __future__ import annotations

import pytest

from router.config import parse
from router.errors import AuthenticationFailed
from router.http.auth import REMEMBER, KeyRing

MODELS = [{"name": "m", "api_base": "http://127.0.0.1:9/v1"}]


def ring() -> KeyRing:
    return KeyRing(parse({"server": {"api_keys": ["sk-alpha", "sk-beta"]}, "models": MODELS}))


def test_each_key_names_its_own_tenant_every_time():
    keys = ring()
    a, b = keys.tenant("Bearer sk-alpha"), keys.tenant("Bearer sk-beta")
    assert a != b
    for _ in range(3):  # answered from memory after the first time: the same tenants
        assert keys.tenant("Bearer sk-alpha") == a
        assert keys.tenant("Bearer sk-beta") == b
        assert keys.tenant("bearer  sk-alpha ") == a


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer sk-alph", "Bearer sk-alphaa", "Basic sk-alpha", "sk-alpha",
])
def test_wrong_keys_stay_wrong_after_a_right_one(header: str | None):
    keys = ring()
    keys.tenant("Bearer sk-alpha")
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            keys.tenant(header)


def test_a_flood_of_wrong_keys_is_not_remembered():
    keys = ring()
    for i in range(10 * REMEMBER):
        with pytest.raises(AuthenticationFailed):
            keys.tenant(f"Bearer sk-guess-{i}")
    # Spellings of a valid key are remembered, but only up to the bound.
    for i in range(10 * REMEMBER):
        assert keys.tenant("Bearer " + " " * i + "sk-beta") == keys.tenant("Bearer sk-beta")
    assert len(keys._recent) <= REMEMBER


def test_no_keys_configured_means_anonymous():
    keys = KeyRing(parse({"models": MODELS}))
    assert keys.tenant(None) == keys.tenant("Bearer anything") == "anonymous"


def test_remembered_spellings_cost_a_fixed_size_each():
    keys = ring()
    for i in range(10 * REMEMBER):  # distinct 4 KiB spellings of one valid key
        assert keys.tenant("Bearer " + " " * (4096 + i) + "sk-beta") == keys.tenant(
            "Bearer sk-beta")
    assert len(keys._recent) <= REMEMBER
    assert all(len(k) == 16 for k in keys._recent)  # digests, never the headers
