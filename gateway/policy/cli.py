"""`gateway policy validate FILE`: check a policy before deploying it (exit 0 valid, 1 not)."""

from __future__ import annotations

import argparse
import sys

from gateway.policy.errors import PolicyError
from gateway.policy.loader import load_policy


def add_validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="policy file to check (YAML or JSON)")


def run_validate(args: argparse.Namespace) -> int:
    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return 1
    document = policy.document
    print(f"ok: {len(document.tasks)} tasks, {len(document.aliases)} aliases, {len(document.orgs)} orgs")
    return 0
