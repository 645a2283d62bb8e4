"""Totals by tag as callers, admins and the CLI ask for them: `run_id:run-42` (HTTP) or `run_id=run-42` (CLI)."""

from __future__ import annotations

from typing import Any

from gateway.errors import InvalidRequestError
from gateway.limits.backend import LimiterBackend
from gateway.policy.policy import Policy

View = dict[str, Any]


def parse_tag(text: str, separator: str) -> tuple[str, str]:
    name, found, value = text.partition(separator)
    if not found or not name or not value:
        raise InvalidRequestError(f"'tag' must be KEY{separator}VALUE, e.g. run_id{separator}run-42", param="tag")
    return name, value


async def tag_view(limiter: LimiterBackend, policy: Policy, org: str, text: str, *, separator: str) -> View:
    """A tag's totals; a tag key the policy does not total is a 400 rather than a misleading zero."""
    name, value = parse_tag(text, separator)
    totalled = policy.org_settings(org).totalled_tags
    if name not in totalled:
        listed = ", ".join(totalled) or "none"
        raise InvalidRequestError(f"Tag key '{name}' is not totalled by the policy (totals.tags: {listed})",
                                  param="tag")
    totals = await limiter.tag_totals(org, name, value)
    return {"key": totals.key, "value": totals.value, "cost_usd": totals.cost_usd, "tokens": totals.tokens,
            "calls": totals.calls}
