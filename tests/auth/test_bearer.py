from __future__ import annotations

import pytest

from gateway.auth.bearer import MAX_TOKEN_CHARS, bearer_token
from gateway.errors import AuthenticationError


@pytest.mark.parametrize("value", [None, "", "   ", "Bearer", "Bearer    ", "bearer\t"])
def test_missing_token(value: str | None) -> None:
    with pytest.raises(AuthenticationError, match="Missing bearer token") as caught:
        bearer_token(value)
    assert caught.value.status == 401
    assert caught.value.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Token abc.def.ghi", "abc.def.ghi", "Bearer-abc"])
def test_non_bearer_scheme(value: str) -> None:
    with pytest.raises(AuthenticationError, match="scheme must be Bearer") as caught:
        bearer_token(value)
    assert "abc" not in caught.value.message
    assert "dXNlcjpwYXNz" not in caught.value.message


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_scheme_is_case_insensitive(scheme: str) -> None:
    assert bearer_token(f"{scheme} abc.def.ghi") == "abc.def.ghi"


def test_surrounding_whitespace_is_ignored() -> None:
    assert bearer_token("  Bearer   abc.def.ghi  ") == "abc.def.ghi"


def test_oversized_token_is_refused() -> None:
    with pytest.raises(AuthenticationError, match="too large"):
        bearer_token("Bearer " + "a" * (MAX_TOKEN_CHARS + 1))
