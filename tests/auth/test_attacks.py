"""Every way a forged, stale or malformed token must fail, and what the failure may (not) reveal."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth import Authenticator
from gateway.errors import AuthenticationError, GatewayError, PermissionDeniedError
from gateway.settings import Settings
from tests.auth.conftest import public_pem
from tests.auth.jwt_factory import SECRET, b64url, claims, compact, forge_hmac, sign

TokenFactory = Callable[[rsa.RSAPrivateKey, rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey], str]


def _unsigned(alg: str) -> TokenFactory:
    return lambda *_: compact({"alg": alg, "typ": "JWT"}, claims())


def _confused(rsa_key: rsa.RSAPrivateKey, *_: Any) -> str:
    # The classic attack: the verifier's *public* key, known to everyone, used as an HMAC secret.
    return forge_hmac({"alg": "HS256", "typ": "JWT"}, claims(org_id="victim"), public_pem(rsa_key))


def _tampered(rsa_key: rsa.RSAPrivateKey, *_: Any) -> str:
    header, _, signature = sign(claims(), rsa_key, "RS256").split(".")
    forged_payload = b64url(json.dumps(claims(org_id="victim", roles=["admin"])).encode())
    return f"{header}.{forged_payload}.{signature}"


def _detached(*_: Any) -> str:
    # RFC 7797 unencoded payload: well-formed, but nothing a bearer token should use.
    header = b64url(json.dumps({"alg": "HS256", "b64": False, "crit": ["b64"]}).encode())
    return f"{header}..{b64url(b'x' * 32)}"


def _signed_array(*_: Any) -> str:
    return jwt.PyJWS().encode(b"[1, 2, 3]", SECRET, algorithm="HS256")


CASES: list[tuple[str, TokenFactory, type[GatewayError], str]] = [
    ("alg none", _unsigned("none"), AuthenticationError, "algorithm not allowed"),
    ("alg None", _unsigned("None"), AuthenticationError, "algorithm not allowed"),
    ("alg NONE", _unsigned("NONE"), AuthenticationError, "algorithm not allowed"),
    ("alg missing", lambda *_: compact({"typ": "JWT"}, claims()), AuthenticationError, "algorithm not allowed"),
    ("hs/rs confusion", _confused, AuthenticationError, "Invalid token signature"),
    ("wrong hmac secret", lambda *_: sign(claims(), "x" * 40, "HS256"), AuthenticationError, "Invalid token signature"),
    ("wrong rsa key", lambda _, other, __: sign(claims(), other, "RS256"), AuthenticationError,
     "Invalid token signature"),
    ("tampered payload", _tampered, AuthenticationError, "Invalid token signature"),
    ("alg not pinned (HS512)", lambda *_: sign(claims(), SECRET + "x" * 30, "HS512"), AuthenticationError,
     "algorithm not allowed"),
    ("alg not pinned (ES256)", lambda _, __, ec_key: sign(claims(), ec_key, "ES256"), AuthenticationError,
     "algorithm not allowed"),
    ("expired", lambda *_: sign(claims(exp=1_000_000), SECRET, "HS256"), AuthenticationError, "Token expired"),
    ("no exp", lambda *_: sign(claims(exp=None), SECRET, "HS256"), AuthenticationError, "no expiry"),
    ("exp not a number", lambda *_: sign(claims(exp="soon"), SECRET, "HS256"), AuthenticationError,
     "'exp' claim must be a number"),
    ("not yet valid", lambda *_: sign(claims(nbf=4_000_000_000), SECRET, "HS256"), AuthenticationError,
     "not yet valid"),
    ("issued in future", lambda *_: sign(claims(iat=4_000_000_000, exp=4_000_000_600), SECRET, "HS256"),
     AuthenticationError, "issued in the future"),
    ("wrong audience", lambda *_: sign(claims(aud="someone-else"), SECRET, "HS256"), AuthenticationError,
     "audience not accepted"),
    ("no audience", lambda *_: sign(claims(aud=None), SECRET, "HS256"), AuthenticationError, "audience not accepted"),
    ("wrong issuer", lambda *_: sign(claims(iss="https://evil.test/"), SECRET, "HS256"), AuthenticationError,
     "issuer not accepted"),
    ("missing org", lambda *_: sign(claims(org_id=None), SECRET, "HS256"), PermissionDeniedError, "organisation"),
    ("empty org", lambda *_: sign(claims(org_id=""), SECRET, "HS256"), PermissionDeniedError, "organisation"),
    ("missing subject", lambda *_: sign(claims(sub=None), SECRET, "HS256"), AuthenticationError, "subject"),
    ("roles wrong type", lambda *_: sign(claims(roles={"admin": True}), SECRET, "HS256"), AuthenticationError,
     "'roles' claim"),
    ("payload not an object", _signed_array, AuthenticationError, "not a JSON object"),
    ("garbled", lambda *_: "not-a-jwt", AuthenticationError, "not a well-formed JWT"),
    ("garbled segments", lambda *_: "!!!.@@@.###", AuthenticationError, "not a well-formed JWT"),
    ("header not an object", lambda *_: f"{b64url(b'[1]')}.{b64url(b'{}')}.", AuthenticationError,
     "not a well-formed JWT"),
    ("kid not a string", lambda *_: compact({"alg": "HS256", "kid": 7}, claims(), b"x" * 32), AuthenticationError,
     "not a well-formed JWT"),
    ("unknown crit extension", lambda *_: compact({"alg": "HS256", "crit": ["exp-x"], "exp-x": 1}, claims()),
     AuthenticationError, "not a well-formed JWT"),
    ("detached payload", _detached, AuthenticationError, "unsupported JWS features"),
]


@pytest.fixture
def authenticator(
    make_settings: Callable[..., Settings], pem_file: Callable[..., str], rsa_key: rsa.RSAPrivateKey
) -> Authenticator:
    return Authenticator(make_settings(jwt_algorithms=["HS256", "RS256"], jwt_public_key_file=pem_file(rsa_key)))


@pytest.mark.parametrize(("name", "factory", "error", "fragment"), CASES, ids=[case[0] for case in CASES])
async def test_attack_is_rejected_without_leaking_the_token(
    authenticator: Authenticator,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ec_key: ec.EllipticCurvePrivateKey,
    name: str,
    factory: TokenFactory,
    error: type[GatewayError],
    fragment: str,
) -> None:
    token = factory(rsa_key, other_rsa_key, ec_key)
    with structlog.testing.capture_logs() as logs, pytest.raises(error) as caught:
        await authenticator.authenticate(f"Bearer {token}")
    assert type(caught.value) is error
    assert fragment in caught.value.message
    rendered = caught.value.body().decode() + str(caught.value)
    for secret_material in (token, *[part for part in token.split(".") if len(part) > 8], SECRET):
        assert secret_material not in rendered
        assert secret_material not in repr(logs)
    if error is AuthenticationError:
        assert caught.value.status == 401
        assert "www-authenticate" in caught.value.headers
    else:
        assert caught.value.status == 403
    assert logs, "a rejection is logged with its reason"


async def test_confusion_rejected_before_verification_when_hmac_not_pinned(
    make_settings: Callable[..., Settings], pem_file: Callable[..., str], rsa_key: rsa.RSAPrivateKey
) -> None:
    authenticator = Authenticator(make_settings(jwt_algorithms=["RS256"], jwt_public_key_file=pem_file(rsa_key)))
    with pytest.raises(AuthenticationError, match="algorithm not allowed"):
        await authenticator.authenticate(f"Bearer {_confused(rsa_key)}")


async def test_confusion_rejected_when_hmac_pinned_but_no_secret(
    make_settings: Callable[..., Settings], pem_file: Callable[..., str], rsa_key: rsa.RSAPrivateKey
) -> None:
    # Without a shared secret, an RSA key must still never be borrowed as the HMAC key.
    authenticator = Authenticator(
        make_settings(jwt_secret=None, jwt_algorithms=["HS256", "RS256"], jwt_public_key_file=pem_file(rsa_key))
    )
    with pytest.raises(AuthenticationError, match="No verification key configured"):
        await authenticator.authenticate(f"Bearer {_confused(rsa_key)}")


async def test_valid_token_passes_the_same_authenticator(
    authenticator: Authenticator, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The attack fixture is not simply rejecting everything."""
    principal = await authenticator.authenticate(f"Bearer {sign(claims(), rsa_key, 'RS256')}")
    assert principal.org == "acme"
    principal = await authenticator.authenticate(f"Bearer {sign(claims(), SECRET, 'HS256')}")
    assert principal.subject == "user-1"


@pytest.mark.parametrize("algorithms", [["none"], ["HS256", "None"], ["NONE"], [" none "], [], ["XS999"]])
def test_bad_algorithm_configuration_fails_at_construction(
    make_settings: Callable[..., Settings], algorithms: list[str]
) -> None:
    with pytest.raises(ValueError):
        Authenticator(make_settings(jwt_algorithms=algorithms))
