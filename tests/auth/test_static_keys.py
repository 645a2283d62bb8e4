"""Tokens verified against the shared secret and against public keys from a PEM file."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import NameOID

from gateway.auth import Authenticator
from gateway.errors import AuthenticationError
from gateway.settings import Settings
from tests.auth.jwt_factory import SECRET, PrivateKey, claims, sign


async def test_hs256_with_shared_secret(make_settings: Callable[..., Settings]) -> None:
    authenticator = Authenticator(make_settings())
    principal = await authenticator.authenticate(f"Bearer {sign(claims(roles=['admin']), SECRET, 'HS256')}")
    assert (principal.org, principal.subject, principal.roles) == ("acme", "user-1", frozenset({"admin"}))
    assert principal.is_admin


@pytest.mark.parametrize(
    ("key_name", "alg"),
    [("rsa_key", "RS256"), ("rsa_key", "RS512"), ("rsa_key", "PS256"), ("ec_key", "ES256"), ("ec384_key", "ES384"),
     ("ed_key", "EdDSA"), ("ed448_key", "EdDSA")],
)
async def test_asymmetric_algorithms_with_static_pem(
    make_settings: Callable[..., Settings],
    pem_file: Callable[..., str],
    request: pytest.FixtureRequest,
    key_name: str,
    alg: str,
) -> None:
    key: PrivateKey = request.getfixturevalue(key_name)
    settings = make_settings(jwt_secret=None, jwt_algorithms=[alg], jwt_public_key_file=pem_file(key))
    authenticator = Authenticator(settings)
    principal = await authenticator.authenticate(f"Bearer {sign(claims(org_id=f'org-{alg}'), key, alg)}")
    assert principal.org == f"org-{alg}"


async def test_ecdsa_key_only_verifies_its_own_curve(
    make_settings: Callable[..., Settings], pem_file: Callable[..., str], ec384_key: ec.EllipticCurvePrivateKey
) -> None:
    # A P-384 key is configured; an ES256 token (P-256) must not be checked against it.
    authenticator = Authenticator(
        make_settings(jwt_secret=None, jwt_algorithms=["ES256", "ES384"], jwt_public_key_file=pem_file(ec384_key))
    )
    forged = sign(claims(), ec.generate_private_key(ec.SECP256R1()), "ES256")
    with pytest.raises(AuthenticationError, match="No verification key configured"):
        await authenticator.authenticate(f"Bearer {forged}")


async def test_several_keys_in_one_file_support_rotation(
    make_settings: Callable[..., Settings],
    pem_file: Callable[..., str],
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    key_file = pem_file(rsa_key, other_rsa_key, ed_key)
    settings = make_settings(jwt_algorithms=["RS256", "EdDSA", "HS256"], jwt_public_key_file=key_file)
    authenticator = Authenticator(settings)
    for key, alg in ((rsa_key, "RS256"), (other_rsa_key, "RS256"), (ed_key, "EdDSA"), (SECRET, "HS256")):
        principal = await authenticator.authenticate(f"Bearer {sign(claims(sub=f'via-{alg}'), key, alg)}")
        assert principal.subject == f"via-{alg}"


async def test_certificate_pem_is_accepted(
    make_settings: Callable[..., Settings], tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(rsa_key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    path = tmp_path / "idp.crt"
    path.write_bytes(certificate.public_bytes(Encoding.PEM))
    authenticator = Authenticator(make_settings(jwt_algorithms=["RS256"], jwt_public_key_file=str(path)))
    assert (await authenticator.authenticate(f"Bearer {sign(claims(), rsa_key, 'RS256')}")).org == "acme"


def test_private_key_file_is_refused(
    make_settings: Callable[..., Settings], tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    path = tmp_path / "private.pem"
    path.write_bytes(ed_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(ValueError, match="private key") as caught:
        Authenticator(make_settings(jwt_algorithms=["EdDSA"], jwt_public_key_file=str(path)))
    assert "BEGIN" not in str(caught.value)


def test_file_without_keys_is_refused(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    path = tmp_path / "empty.pem"
    path.write_text("nothing here\n")
    with pytest.raises(ValueError, match="no PEM public key"):
        Authenticator(make_settings(jwt_algorithms=["RS256"], jwt_public_key_file=str(path)))


async def test_ed448_key_does_not_verify_ed25519_token(
    make_settings: Callable[..., Settings], pem_file: Callable[..., str], ed448_key: ed448.Ed448PrivateKey
) -> None:
    authenticator = Authenticator(make_settings(jwt_algorithms=["EdDSA"], jwt_public_key_file=pem_file(ed448_key)))
    with pytest.raises(AuthenticationError, match="Invalid token signature"):
        await authenticator.authenticate(f"Bearer {sign(claims(), ed25519.Ed25519PrivateKey.generate(), 'EdDSA')}")
