"""How claims become a Principal: roles formats, configurable claim names, issuer/audience/leeway rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.auth import Authenticator, Principal, require_admin
from gateway.errors import AuthenticationError, PermissionDeniedError
from gateway.settings import Settings
from tests.auth.jwt_factory import AUDIENCE, SECRET, FakeClock, claims, sign


@pytest.mark.parametrize(
    ("roles", "expected"),
    [(["admin", "member"], {"admin", "member"}), ("admin  member", {"admin", "member"}), ([], set()), (None, set())],
)
async def test_roles_from_list_or_space_separated_string(
    make_settings: Callable[..., Settings], roles: object, expected: set[str]
) -> None:
    token = sign(claims(roles=roles), SECRET, "HS256")
    principal = await Authenticator(make_settings()).authenticate(f"Bearer {token}")
    assert principal.roles == frozenset(expected)
    assert principal.is_admin is ("admin" in expected)


def test_require_admin() -> None:
    require_admin(Principal(org="acme", subject="a", roles=frozenset({"admin"})))
    with pytest.raises(PermissionDeniedError) as caught:
        require_admin(Principal(org="acme", subject="a", roles=frozenset({"member"})))
    assert caught.value.status == 403


async def test_claim_names_are_configurable_including_namespaced_and_nested(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        jwt_org_claim="https://example.test/org", jwt_subject_claim="uid", jwt_roles_claim="realm_access.roles"
    )
    payload = claims(sub=None, org_id=None, roles=None, uid="u-9")
    payload["https://example.test/org"] = "globex"
    payload["realm_access"] = {"roles": ["admin"]}
    principal = await Authenticator(settings).authenticate(f"Bearer {sign(payload, SECRET, 'HS256')}")
    assert principal == Principal(org="globex", subject="u-9", roles=frozenset({"admin"}))


async def test_nested_org_claim(make_settings: Callable[..., Settings]) -> None:
    token = sign(claims(org_id=None, o={"id": "org_2abc"}), SECRET, "HS256")
    principal = await Authenticator(make_settings(jwt_org_claim="o.id")).authenticate(f"Bearer {token}")
    assert principal.org == "org_2abc"


async def test_audience_list_containing_ours(make_settings: Callable[..., Settings]) -> None:
    token = sign(claims(aud=["other", AUDIENCE]), SECRET, "HS256")
    assert (await Authenticator(make_settings()).authenticate(f"Bearer {token}")).org == "acme"


async def test_issuer_and_audience_unchecked_when_not_configured_but_aud_must_then_be_absent(
    make_settings: Callable[..., Settings],
) -> None:
    authenticator = Authenticator(make_settings(jwt_issuer=None, jwt_audience=None))
    token = sign(claims(iss="https://anyone.test/", aud=None), SECRET, "HS256")
    assert (await authenticator.authenticate(f"Bearer {token}")).org == "acme"
    with pytest.raises(AuthenticationError, match="audience not accepted"):
        await authenticator.authenticate(f"Bearer {sign(claims(), SECRET, 'HS256')}")


async def test_leeway_applies_to_exp_and_nbf(make_settings: Callable[..., Settings]) -> None:
    clock = FakeClock()
    authenticator = Authenticator(make_settings(jwt_leeway_s=30), clock=clock)
    just_expired = sign(claims(now=clock.now - 600, exp=int(clock.now) - 10), SECRET, "HS256")
    assert (await authenticator.authenticate(f"Bearer {just_expired}")).org == "acme"
    almost_valid = sign(claims(now=clock.now, nbf=int(clock.now) + 10), SECRET, "HS256")
    assert (await authenticator.authenticate(f"Bearer {almost_valid}")).org == "acme"
    long_expired = sign(claims(now=clock.now - 600, exp=int(clock.now) - 31), SECRET, "HS256")
    with pytest.raises(AuthenticationError, match="Token expired"):
        await authenticator.authenticate(f"Bearer {long_expired}")


async def test_exp_is_judged_by_the_injected_clock(make_settings: Callable[..., Settings]) -> None:
    clock = FakeClock(start=1_000_000)
    authenticator = Authenticator(make_settings(jwt_leeway_s=0), clock=clock)
    token = sign(claims(now=clock.now), SECRET, "HS256")
    assert (await authenticator.authenticate(f"Bearer {token}")).org == "acme"
    clock.advance(601)
    with pytest.raises(AuthenticationError, match="Token expired"):
        await authenticator.authenticate(f"Bearer {token}")
