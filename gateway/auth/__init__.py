"""Caller identity: bearer JWT → Principal."""

from gateway.auth.authenticator import Authenticator, require_admin
from gateway.auth.principal import Principal
from gateway.auth.tokens import mint_token

__all__ = ["Authenticator", "Principal", "mint_token", "require_admin"]
