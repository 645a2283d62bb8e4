from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.settings import Settings
from tests.auth.jwks_server import JWKS_PATH, JwksState, jwks_app
from tests.auth.jwt_factory import AUDIENCE, ISSUER, SECRET, PrivateKey
from tests.servers import serve


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment; a developer's GATEWAY_JWT_* must not change what these tests see."""
    for name in list(os.environ):
        if name.startswith(("GATEWAY_JWT", "GATEWAY_JWKS")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def ec384_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="session")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def ed448_key() -> ed448.Ed448PrivateKey:
    return ed448.Ed448PrivateKey.generate()


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture
def pem_file(tmp_path: Path) -> Callable[..., str]:
    """Write the public halves of the given keys into one PEM file and return its path."""

    def write(*keys: PrivateKey) -> str:
        path = tmp_path / f"keys-{len(list(tmp_path.iterdir()))}.pem"
        path.write_bytes(b"".join(public_pem(key) for key in keys))
        return str(path)

    return write


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Settings with the test secret, issuer and audience; keyword arguments override."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"jwt_secret": SECRET, "jwt_issuer": ISSUER, "jwt_audience": AUDIENCE}
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def jwks_server() -> Iterator[tuple[JwksState, str]]:
    state = JwksState()
    with serve(jwks_app(state)) as server:
        yield state, server.url + JWKS_PATH


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client
