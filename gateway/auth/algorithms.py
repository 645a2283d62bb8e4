"""Which JWS algorithms exist, which key family each needs, and which ones a deployment may pin."""

from __future__ import annotations

from collections.abc import Iterable

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
# ECDSA algorithms are bound to one curve each (RFC 7518 §3.4); a P-384 key must not verify an ES256 token.
EC_CURVES: dict[str, str] = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
EDDSA_ALGORITHMS = frozenset({"EdDSA"})
SUPPORTED_ALGORITHMS = HMAC_ALGORITHMS | RSA_ALGORITHMS | frozenset(EC_CURVES) | EDDSA_ALGORITHMS


def pin_algorithms(configured: Iterable[str]) -> frozenset[str]:
    """Validate the configured allow-list; an unusable entry is a deployment error, so fail at startup."""
    pinned = frozenset(configured)
    if not pinned:
        raise ValueError("jwt_algorithms must list at least one algorithm")
    if any(alg.strip().lower() == "none" for alg in pinned):
        raise ValueError("jwt_algorithms must not contain 'none': unsigned tokens are never accepted")
    unknown = sorted(pinned - SUPPORTED_ALGORITHMS)
    if unknown:
        supported = ", ".join(sorted(SUPPORTED_ALGORITHMS))
        raise ValueError(f"unsupported jwt_algorithms {unknown}; choose from {supported}")
    return pinned
