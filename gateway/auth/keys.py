"""Asymmetric verification keys from PEM files and JWK Sets, each bound to the algorithms it may verify.

Binding a key to an algorithm family is what stops algorithm confusion: an RSA public key is never handed
to an HMAC verifier, and a JWK that declares `alg` only verifies tokens with exactly that `alg`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.auth.algorithms import EC_CURVES, EDDSA_ALGORITHMS, RSA_ALGORITHMS

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
_PUBLIC_KEY_TYPES = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)
_PRIVATE_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.+?-----END \1-----", re.DOTALL)


@dataclass(frozen=True, slots=True)
class VerificationKey:
    key: PublicKey
    kid: str | None = None
    declared_alg: str | None = None

    def accepts(self, alg: str) -> bool:
        """True when this key may verify a token whose header says `alg`."""
        if self.declared_alg is not None and self.declared_alg != alg:
            return False
        if alg in RSA_ALGORITHMS:
            return isinstance(self.key, rsa.RSAPublicKey)
        if alg in EC_CURVES:
            return isinstance(self.key, ec.EllipticCurvePublicKey) and self.key.curve.name == EC_CURVES[alg]
        if alg in EDDSA_ALGORITHMS:
            return isinstance(self.key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
        return False


def load_pem_keys(path: str) -> tuple[VerificationKey, ...]:
    """Every public key or certificate in a PEM file (several allow rotation without downtime)."""
    data = Path(path).read_bytes()
    keys: list[VerificationKey] = []
    for match in _PEM_BLOCK.finditer(data):
        label = match.group(1).decode()
        if "PRIVATE" in label:
            raise ValueError(f"{path} holds a private key; configure the public key only")
        block = match.group(0)
        loaded = x509.load_pem_x509_certificate(block).public_key() if label == "CERTIFICATE" else (
            load_pem_public_key(block)
        )
        if not isinstance(loaded, _PUBLIC_KEY_TYPES):
            raise ValueError(f"{path} holds a {type(loaded).__name__}; only RSA, EC and Ed25519/Ed448 keys verify JWTs")
        keys.append(VerificationKey(loaded))
    if not keys:
        raise ValueError(f"{path} contains no PEM public key")
    return tuple(keys)


def keys_from_jwks(document: object) -> tuple[VerificationKey, ...]:
    """Usable signing keys from a JWK Set document; raises ValueError when there are none."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("JWKS document has no 'keys' list")
    keys = tuple(key for entry in document["keys"] if (key := _key_from_jwk(entry)) is not None)
    if not keys:
        raise ValueError("JWKS document has no usable signing keys")
    return keys


def _key_from_jwk(entry: Any) -> VerificationKey | None:
    # Symmetric (`oct`) keys are skipped: HMAC verification uses only the configured shared secret, never a
    # key published by, or injected into, a key set.
    if not isinstance(entry, dict) or entry.get("kty") == "oct" or entry.get("use", "sig") != "sig":
        return None
    try:
        key = jwt.PyJWK(entry).key
    except jwt.PyJWTError:
        return None  # unsupported kty/crv/alg: other keys in the set may still be usable
    if isinstance(key, _PRIVATE_KEY_TYPES):
        key = key.public_key()
    if not isinstance(key, _PUBLIC_KEY_TYPES):
        return None
    kid = entry.get("kid")
    alg = entry.get("alg")
    return VerificationKey(key, kid if isinstance(kid, str) else None, alg if isinstance(alg, str) else None)
