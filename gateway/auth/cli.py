"""`gateway token mint`: print an HS256 token the configured gateway will accept."""

from __future__ import annotations

import argparse
import sys

from gateway.auth.tokens import mint_token
from gateway.settings import Settings


def add_mint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, help="organisation the token acts for")
    parser.add_argument("--sub", default="dev", help="subject (user or service) id")
    parser.add_argument("--role", action="append", default=[], help="role to grant; repeat for several")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")


def run_mint(args: argparse.Namespace, settings: Settings) -> int:
    secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    if not secret:
        print("error: GATEWAY_JWT_SECRET is not set; it is the HS256 key tokens are signed with", file=sys.stderr)
        return 2
    if args.ttl <= 0:
        print("error: --ttl must be a positive number of seconds", file=sys.stderr)
        return 2
    if "HS256" not in settings.jwt_algorithms:
        # Still mint: the token may be meant for another deployment, but say why this one would refuse it.
        print("warning: HS256 is not in GATEWAY_JWT_ALGORITHMS; this gateway will reject the token", file=sys.stderr)
    token = mint_token(
        secret,
        org=args.org,
        subject=args.sub,
        roles=args.role,
        ttl_s=args.ttl,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        org_claim=settings.jwt_org_claim,
        subject_claim=settings.jwt_subject_claim,
        roles_claim=settings.jwt_roles_claim,
    )
    print(token)
    return 0
