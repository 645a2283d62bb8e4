"""Build signed, forged and malformed tokens for the auth tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

SECRET = "test-secret-of-at-least-thirty-two-bytes!"
ISSUER = "https://idp.example.test/"
AUDIENCE = "gateway"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


class FakeClock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
    issued = int(time.time() if now is None else now)
    base: dict[str, Any] = {
        "sub": "user-1",
        "org_id": "acme",
        "roles": ["member"],
        "iat": issued,
        "exp": issued + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: dict[str, Any], key: str | PrivateKey, alg: str, **headers: Any) -> str:
    return jwt.encode(payload, key, algorithm=alg, headers=headers or None)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}.{b64url(signature)}"


def forge_hmac(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """An HMAC-signed token built by hand, because PyJWT refuses PEM-looking HMAC keys (the confusion attack)."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def public_jwk(private_key: PrivateKey, kid: str, alg: str | None = None) -> dict[str, Any]:
    public = private_key.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    jwk["kid"] = kid
    jwk["use"] = "sig"
    if alg is not None:
        jwk["alg"] = alg
    return jwk
