"""The verified-token cache: bounded, LRU, and never outliving the token or the max age."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.auth import Authenticator, Principal
from gateway.auth.token_cache import VerifiedTokenCache
from gateway.errors import AuthenticationError
from gateway.settings import Settings
from tests.auth.jwt_factory import SECRET, FakeClock, claims, sign

ALICE = Principal(org="acme", subject="alice", roles=frozenset())
BOB = Principal(org="acme", subject="bob", roles=frozenset())


def test_entries_expire() -> None:
    cache = VerifiedTokenCache(max_entries=10)
    cache.put(b"a", ALICE, expires_at=100.0)
    assert cache.get(b"a", now=99.9) is ALICE
    assert cache.get(b"a", now=100.0) is None
    assert len(cache) == 0


def test_least_recently_used_entry_is_evicted() -> None:
    cache = VerifiedTokenCache(max_entries=2)
    cache.put(b"a", ALICE, expires_at=100.0)
    cache.put(b"b", BOB, expires_at=100.0)
    assert cache.get(b"a", now=0.0) is ALICE  # touch a: b is now the oldest
    cache.put(b"c", ALICE, expires_at=100.0)
    assert cache.get(b"b", now=0.0) is None
    assert cache.get(b"a", now=0.0) is ALICE
    assert len(cache) == 2


def test_zero_size_disables_caching() -> None:
    cache = VerifiedTokenCache(max_entries=0)
    cache.put(b"a", ALICE, expires_at=100.0)
    assert cache.get(b"a", now=0.0) is None


async def test_cached_token_still_expires_at_its_exp(make_settings: Callable[..., Settings]) -> None:
    clock = FakeClock()
    authenticator = Authenticator(make_settings(jwt_leeway_s=0), clock=clock)
    token = sign(claims(now=clock.now, exp=int(clock.now) + 20), SECRET, "HS256")
    await authenticator.authenticate(f"Bearer {token}")
    clock.advance(10)
    assert (await authenticator.authenticate(f"Bearer {token}")).org == "acme"
    clock.advance(11)
    with pytest.raises(AuthenticationError, match="Token expired"):
        await authenticator.authenticate(f"Bearer {token}")


async def test_cache_is_bounded_by_setting(make_settings: Callable[..., Settings]) -> None:
    authenticator = Authenticator(make_settings(jwt_cache_size=3))
    for index in range(10):
        await authenticator.authenticate(f"Bearer {sign(claims(sub=f'u{index}'), SECRET, 'HS256')}")
    # Evicted tokens are simply verified again; an LRU overflow never rejects a valid token.
    assert (await authenticator.authenticate(f"Bearer {sign(claims(sub='u0'), SECRET, 'HS256')}")).subject == "u0"
