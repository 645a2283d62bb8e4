"""Access rules in the policy: required roles and scopes, subject and org allowlists, globally and per task."""

from __future__ import annotations

import pytest

from gateway.auth.authenticator import Authenticator
from gateway.auth.claims import ClaimRules, principal_from_claims
from gateway.auth.principal import Principal
from gateway.auth.tokens import mint_token
from gateway.errors import AuthenticationError, PermissionDeniedError
from gateway.policy.policy import Policy
from gateway.policy.schema import PolicyDocument
from gateway.settings import Settings

DOCUMENT = {
    "access": {"roles": ["llm-user"], "scopes": ["models:invoke"], "orgs": ["acme", "globex-*"]},
    "tasks": {
        "planner": {"primary": "openai/gpt-4o", "access": {"scopes": ["planner"], "subjects": ["alice", "svc-*"]}},
        "summarize": {"primary": "openai/gpt-4o-mini"},
    },
}


def _policy(document: dict) -> Policy:
    return Policy(PolicyDocument.model_validate(document))


def _caller(org: str = "acme", subject: str = "alice", roles: tuple[str, ...] = ("llm-user",),
            scopes: tuple[str, ...] = ("models:invoke", "planner")) -> Principal:
    return Principal(org=org, subject=subject, roles=frozenset(roles), scopes=frozenset(scopes))


def _refusal(policy: Policy, principal: Principal, model: str) -> str | None:
    route = policy.resolve(model, principal.org)
    try:
        policy.check_caller(principal, route)
    except PermissionDeniedError as exc:
        assert (exc.status, exc.type) == (403, "permission_error")
        return exc.message
    return None


def test_a_caller_with_everything_passes() -> None:
    policy = _policy(DOCUMENT)
    for model in ("planner", "summarize", "openai/gpt-4o-mini"):
        assert _refusal(policy, _caller(), model) is None
    assert _refusal(policy, _caller(org="globex-eu", subject="svc-batch"), "planner") is None


@pytest.mark.parametrize(("principal", "model", "message"), [
    (_caller(roles=()), "openai/gpt-4o-mini", "the model endpoints denied: missing role 'llm-user'"),
    (_caller(scopes=()), "summarize", "missing scope 'models:invoke'"),
    (_caller(org="initech"), "openai/gpt-4o-mini", "organization 'initech' is not on the allowlist"),
    (_caller(scopes=("models:invoke",)), "planner", "task 'planner' denied: missing scope 'planner'"),
    (_caller(subject="bob"), "planner", "task 'planner' denied: subject 'bob' is not on the allowlist"),
])
def test_refusals_name_what_is_missing(principal: Principal, model: str, message: str) -> None:
    refusal = _refusal(_policy(DOCUMENT), principal, model)
    assert refusal is not None and message in refusal


def test_several_missing_roles_are_all_named() -> None:
    policy = _policy({"access": {"roles": ["b-role", "a-role"]}})
    assert "missing roles 'a-role', 'b-role'" in (_refusal(policy, _caller(roles=()), "openai/gpt-4o") or "")


def test_without_access_rules_everyone_passes() -> None:
    assert _refusal(Policy.empty(), _caller(roles=(), scopes=()), "openai/gpt-4o") is None


def test_schema_rejects_bad_rules() -> None:
    with pytest.raises(ValueError):
        PolicyDocument.model_validate({"access": {"roles": "admin"}})  # a string, not a list
    with pytest.raises(ValueError):
        PolicyDocument.model_validate({"access": {"scopes": [""]}})


RULES = ClaimRules(issuer=None, audience=None, leeway_s=0, org_claim="org_id", subject_claim="sub",
                   roles_claim="roles", scopes_claim="scp")


def test_scopes_come_from_the_configured_claim() -> None:
    claims = {"org_id": "acme", "sub": "alice", "scp": ["models:invoke", "planner"], "scope": "ignored"}
    assert principal_from_claims(claims, RULES).scopes == {"models:invoke", "planner"}
    oauth = {"org_id": "acme", "sub": "alice", "scope": "models:invoke planner"}
    default_rules = ClaimRules(None, None, 0, "org_id", "sub", "roles")
    assert principal_from_claims(oauth, default_rules).scopes == {"models:invoke", "planner"}
    assert principal_from_claims({"org_id": "acme", "sub": "a"}, default_rules).scopes == frozenset()
    with pytest.raises(AuthenticationError):
        principal_from_claims({"org_id": "acme", "sub": "a", "scp": 7}, RULES)


async def test_a_minted_token_through_the_authenticator() -> None:
    """The whole path the pipeline takes: verify the token, read its scopes, resolve, check the caller."""
    secret = "caller-access-test-secret-long-enough-for-hs256"
    authenticator = Authenticator(Settings(jwt_secret=secret))  # type: ignore[arg-type]
    policy = _policy(DOCUMENT)
    good = mint_token(secret, org="acme", subject="alice", roles=["llm-user"], scopes=["models:invoke", "planner"])
    principal = await authenticator.authenticate(f"Bearer {good}")
    assert _refusal(policy, principal, "planner") is None
    partial = mint_token(secret, org="acme", subject="alice", roles=["llm-user"], scopes=["models:invoke"])
    refusal = _refusal(policy, await authenticator.authenticate(f"Bearer {partial}"), "planner")
    assert refusal is not None and "missing scope 'planner'" in refusal
