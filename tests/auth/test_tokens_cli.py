"""mint_token and `gateway token mint`: minted tokens are accepted by an Authenticator with the same settings."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import jwt
import pytest

from gateway.auth import Authenticator, Principal, mint_token
from gateway.auth.cli import add_mint_arguments, run_mint
from gateway.settings import Settings
from tests.auth.jwt_factory import AUDIENCE, ISSUER, SECRET


def mint_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway token mint")
    add_mint_arguments(parser)
    return parser


async def test_mint_token_round_trips(make_settings: Callable[..., Settings]) -> None:
    token = mint_token(SECRET, org="acme", subject="svc", roles=["admin", "ops"], issuer=ISSUER, audience=AUDIENCE)
    principal = await Authenticator(make_settings()).authenticate(f"Bearer {token}")
    assert principal == Principal(org="acme", subject="svc", roles=frozenset({"admin", "ops"}))
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


async def test_mint_token_with_custom_claim_names(make_settings: Callable[..., Settings]) -> None:
    token = mint_token(SECRET, org="acme", org_claim="tenant", subject_claim="uid", roles_claim="groups", roles=["x"])
    settings = make_settings(
        jwt_issuer=None, jwt_audience=None, jwt_org_claim="tenant", jwt_subject_claim="uid", jwt_roles_claim="groups"
    )
    principal = await Authenticator(settings).authenticate(f"Bearer {token}")
    assert principal == Principal(org="acme", subject="dev", roles=frozenset({"x"}))


def test_mint_token_sets_lifetime() -> None:
    payload = jwt.decode(mint_token(SECRET, org="acme", ttl_s=120), SECRET, algorithms=["HS256"])
    assert payload["exp"] - payload["iat"] == 120


@pytest.mark.parametrize(("secret", "ttl"), [("", 60), (SECRET, 0), (SECRET, -5)])
def test_mint_token_refuses_bad_input(secret: str, ttl: int) -> None:
    with pytest.raises(ValueError):
        mint_token(secret, org="acme", ttl_s=ttl)


async def test_cli_prints_a_token_the_gateway_accepts(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings()
    args = mint_parser().parse_args(["--org", "acme", "--sub", "ci", "--role", "admin", "--role", "ops", "--ttl", "90"])
    assert run_mint(args, settings) == 0
    token = capsys.readouterr().out.strip()
    principal = await Authenticator(settings).authenticate(f"Bearer {token}")
    assert principal == Principal(org="acme", subject="ci", roles=frozenset({"admin", "ops"}))


def test_cli_without_secret_exits_2(make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_mint(mint_parser().parse_args(["--org", "acme"]), make_settings(jwt_secret=None)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "GATEWAY_JWT_SECRET" in captured.err


def test_cli_rejects_non_positive_ttl(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_mint(mint_parser().parse_args(["--org", "acme", "--ttl", "0"]), make_settings()) == 2
    assert "--ttl" in capsys.readouterr().err


def test_cli_warns_when_hs256_is_not_pinned(
    make_settings: Callable[..., Settings], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_mint(mint_parser().parse_args(["--org", "acme"]), make_settings(jwt_algorithms=["RS256"])) == 0
    captured = capsys.readouterr()
    assert captured.out.count(".") == 2
    assert "HS256" in captured.err


def test_cli_requires_org() -> None:
    with pytest.raises(SystemExit):
        mint_parser().parse_args([])
