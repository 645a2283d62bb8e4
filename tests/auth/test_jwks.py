"""JWKS over a real socket: caching, rotation on unknown kid, rate-limited and single-flight refreshes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gateway.auth import Authenticator
from gateway.errors import AuthenticationError, ServiceUnavailableError
from gateway.settings import Settings
from tests.auth.jwks_server import JwksState
from tests.auth.jwt_factory import SECRET, FakeClock, b64url, claims, public_jwk, sign

Server = tuple[JwksState, str]


def jwks_settings(make_settings: Callable[..., Settings], url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "jwt_secret": None,
        "jwt_algorithms": ["RS256", "PS256", "ES256", "EdDSA"],
        "jwks_url": url,
        "jwks_cache_ttl_s": 300.0,
        "jwks_min_refresh_interval_s": 30.0,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.mark.parametrize(("key_name", "alg"), [("rsa_key", "RS256"), ("ec_key", "ES256"), ("ed_key", "EdDSA")])
async def test_tokens_verify_against_served_keys(
    make_settings: Callable[..., Settings],
    jwks_server: Server,
    http: httpx.AsyncClient,
    request: pytest.FixtureRequest,
    key_name: str,
    alg: str,
) -> None:
    state, url = jwks_server
    key = request.getfixturevalue(key_name)
    state.document = {"keys": [public_jwk(key, kid="k1", alg=alg)]}
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http)
    principal = await authenticator.authenticate(f"Bearer {sign(claims(), key, alg, kid='k1')}")
    assert principal.org == "acme"


async def test_many_tokens_one_fetch(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http)
    for index in range(25):
        token = sign(claims(sub=f"user-{index}"), rsa_key, "RS256", kid="k1")
        assert (await authenticator.authenticate(f"Bearer {token}")).subject == f"user-{index}"
    unnamed = sign(claims(), rsa_key, "RS256")  # no kid: every served key is a candidate
    assert (await authenticator.authenticate(f"Bearer {unnamed}")).org == "acme"
    assert state.fetches == 1


async def test_unknown_kid_refreshes_once_and_rotation_works(
    make_settings: Callable[..., Settings],
    jwks_server: Server,
    http: httpx.AsyncClient,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="old")]}
    clock = FakeClock()
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http, clock=clock)
    await authenticator.authenticate(f"Bearer {sign(claims(now=clock.now), rsa_key, 'RS256', kid='old')}")
    # Later (past the refresh floor, within the TTL) the identity provider rotates: a new key appears in the
    # set and tokens start naming it.
    clock.advance(31)
    state.document = {"keys": [public_jwk(rsa_key, kid="old"), public_jwk(other_rsa_key, kid="new")]}
    rotated = sign(claims(now=clock.now, sub="rotated"), other_rsa_key, "RS256", kid="new")
    assert (await authenticator.authenticate(f"Bearer {rotated}")).subject == "rotated"
    assert state.fetches == 2
    again = sign(claims(now=clock.now, sub="again"), other_rsa_key, "RS256", kid="new")
    assert (await authenticator.authenticate(f"Bearer {again}")).subject == "again"
    assert state.fetches == 2


async def test_unknown_kid_flood_is_rate_limited(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    clock = FakeClock()
    settings = jwks_settings(make_settings, url, jwks_min_refresh_interval_s=30.0)
    authenticator = Authenticator(settings, http=http, clock=clock)
    await authenticator.authenticate(f"Bearer {sign(claims(now=clock.now), rsa_key, 'RS256', kid='k1')}")
    assert state.fetches == 1
    clock.advance(31)
    for index in range(40):
        token = sign(claims(now=clock.now), rsa_key, "RS256", kid=f"bogus-{index}")
        with pytest.raises(AuthenticationError, match="Unknown signing key"):
            await authenticator.authenticate(f"Bearer {token}")
        clock.advance(0.5)  # 40 tokens over 20 s: inside one refresh interval
    assert state.fetches == 2
    clock.advance(15)
    with pytest.raises(AuthenticationError, match="Unknown signing key"):
        await authenticator.authenticate(f"Bearer {sign(claims(now=clock.now), rsa_key, 'RS256', kid='later')}")
    assert state.fetches == 3


async def test_concurrent_refreshes_share_one_fetch(
    make_settings: Callable[..., Settings],
    jwks_server: Server,
    http: httpx.AsyncClient,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    state.delay_s = 0.3
    authenticator = Authenticator(jwks_settings(make_settings, url, jwks_min_refresh_interval_s=0.0), http=http)
    first_load = [sign(claims(sub=f"a{index}"), rsa_key, "RS256", kid="k1") for index in range(20)]
    results = await asyncio.gather(*(authenticator.authenticate(f"Bearer {token}") for token in first_load))
    assert {principal.subject for principal in results} == {f"a{index}" for index in range(20)}
    assert state.fetches == 1
    state.document = {"keys": [public_jwk(rsa_key, kid="k1"), public_jwk(other_rsa_key, kid="k2")]}
    rotated = [sign(claims(sub=f"b{index}"), other_rsa_key, "RS256", kid="k2") for index in range(20)]
    results = await asyncio.gather(*(authenticator.authenticate(f"Bearer {token}") for token in rotated))
    assert len(results) == 20
    assert state.fetches == 2


async def test_keys_refetched_after_ttl(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    clock = FakeClock()
    authenticator = Authenticator(jwks_settings(make_settings, url, jwks_cache_ttl_s=100.0), http=http, clock=clock)
    await authenticator.authenticate(f"Bearer {sign(claims(now=clock.now), rsa_key, 'RS256', kid='k1')}")
    clock.advance(99)
    await authenticator.authenticate(f"Bearer {sign(claims(now=clock.now, sub='b'), rsa_key, 'RS256', kid='k1')}")
    assert state.fetches == 1
    clock.advance(2)
    await authenticator.authenticate(f"Bearer {sign(claims(now=clock.now, sub='c'), rsa_key, 'RS256', kid='k1')}")
    assert state.fetches == 2


async def test_verified_token_cache_skips_key_lookup_and_stale_keys_survive_outage(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    clock = FakeClock()
    settings = jwks_settings(make_settings, url, jwks_cache_ttl_s=10.0, jwks_min_refresh_interval_s=5.0)
    authenticator = Authenticator(settings, http=http, clock=clock)
    token = sign(claims(now=clock.now), rsa_key, "RS256", kid="k1")
    await authenticator.authenticate(f"Bearer {token}")
    clock.advance(20)  # key set is past its TTL, the verified token is not (60 s)
    state.status = 500
    assert (await authenticator.authenticate(f"Bearer {token}")).org == "acme"
    assert state.fetches == 1, "a cached token needs no key lookup"
    fresh = sign(claims(now=clock.now, sub="fresh"), rsa_key, "RS256", kid="k1")
    assert (await authenticator.authenticate(f"Bearer {fresh}")).subject == "fresh"
    assert state.fetches == 2, "the refresh was attempted, failed, and the previous keys were kept"


async def test_unreachable_key_set_is_a_503_and_retries_are_rate_limited(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.status = 503
    clock = FakeClock()
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http, clock=clock)
    token = sign(claims(now=clock.now), rsa_key, "RS256", kid="k1")
    for _ in range(3):
        with pytest.raises(ServiceUnavailableError) as caught:
            await authenticator.authenticate(f"Bearer {token}")
        assert caught.value.status == 503
        assert token not in caught.value.message
    assert state.fetches == 1
    state.status = 200
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    clock.advance(31)
    assert (await authenticator.authenticate(f"Bearer {token}")).org == "acme"
    assert state.fetches == 2


async def test_jwk_declared_alg_must_match_the_token(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1", alg="RS256")]}
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http)
    with pytest.raises(AuthenticationError, match="Unknown signing key"):
        await authenticator.authenticate(f"Bearer {sign(claims(), rsa_key, 'PS256', kid='k1')}")


async def test_jwk_key_type_must_match_the_token(
    make_settings: Callable[..., Settings],
    jwks_server: Server,
    http: httpx.AsyncClient,
    ec_key: ec.EllipticCurvePrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(ec_key, kid="k1")]}  # EC key, no declared alg
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http)
    with pytest.raises(AuthenticationError, match="Unknown signing key"):
        await authenticator.authenticate(f"Bearer {sign(claims(), ed_key, 'EdDSA', kid='k1')}")


async def test_symmetric_key_in_key_set_is_never_used(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    planted = b"attacker-controlled-hmac-key-32bytes!"
    state.document = {
        "keys": [public_jwk(rsa_key, kid="k1"), {"kty": "oct", "kid": "sym", "k": b64url(planted), "alg": "HS256"}]
    }
    settings = jwks_settings(make_settings, url, jwt_secret=SECRET, jwt_algorithms=["HS256", "RS256"])
    authenticator = Authenticator(settings, http=http)
    with pytest.raises(AuthenticationError, match="Invalid token signature"):
        await authenticator.authenticate(f"Bearer {sign(claims(), planted.decode(), 'HS256', kid='sym')}")
    # The shared secret still works side by side with the key set.
    assert (await authenticator.authenticate(f"Bearer {sign(claims(), SECRET, 'HS256', kid='sym')}")).org == "acme"


async def test_owns_and_closes_its_client_when_none_injected(
    make_settings: Callable[..., Settings], jwks_server: Server, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    authenticator = Authenticator(jwks_settings(make_settings, url))
    assert (await authenticator.authenticate(f"Bearer {sign(claims(), rsa_key, 'RS256', kid='k1')}")).org == "acme"
    await authenticator.aclose()
    assert state.fetches == 1


async def test_cancelled_waiter_does_not_cancel_the_shared_fetch(
    make_settings: Callable[..., Settings], jwks_server: Server, http: httpx.AsyncClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    state, url = jwks_server
    state.document = {"keys": [public_jwk(rsa_key, kid="k1")]}
    state.delay_s = 0.3
    authenticator = Authenticator(jwks_settings(make_settings, url), http=http)
    first, second = (sign(claims(sub=sub), rsa_key, "RS256", kid="k1") for sub in ("x", "y"))
    impatient = asyncio.create_task(authenticator.authenticate(f"Bearer {first}"))
    patient = asyncio.create_task(authenticator.authenticate(f"Bearer {second}"))
    await asyncio.sleep(0.1)
    impatient.cancel()
    assert (await patient).subject == "y"
    assert impatient.cancelled()
    assert state.fetches == 1
