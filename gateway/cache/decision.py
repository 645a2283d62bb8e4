"""When a request may be answered from the exact-match cache, and under which key and TTL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.cache.key import cache_key, is_deterministic
from gateway.front import Routed
from gateway.policy.schema import CachePolicy

# One header name both ways: the request's opt-in/opt-out, and the answer's hit or miss.
CACHE_HEADER = "x-gateway-cache"
HIT = "hit"
MISS = "miss"
_ON = frozenset({"on", "true", "yes", "1"})
_OFF = frozenset({"off", "false", "no", "0"})


@dataclass(frozen=True, slots=True)
class CacheDecision:
    key: str
    ttl_s: float


def effective_cache_policy(routed: Routed) -> CachePolicy:
    """The task's cache settings if it has any, else the org's, else the policy's global ones."""
    document = routed.policy.document
    task = document.tasks.get(routed.route.task) if routed.route.task else None
    org = document.orgs.get(routed.principal.org)
    return (task.cache if task is not None and task.cache is not None else None) or (
        org.cache if org is not None and org.cache is not None else None
    ) or document.cache


def decide(routed: Routed, header: str | None, body: Mapping[str, Any], endpoint: str) -> CacheDecision | None:
    """Opt-in (policy or `x-gateway-cache: on`), opt-out (`off`), and only deterministic requests unless the
    policy allows any. The key covers the request as it goes upstream (model after rewriting), per org."""
    choice = (header or "").strip().lower()
    if choice in _OFF:
        return None
    policy = effective_cache_policy(routed)
    if not (policy.enabled or choice in _ON):
        return None
    if policy.deterministic_only and not is_deterministic(body):
        return None
    return CacheDecision(cache_key(org=routed.principal.org, endpoint=endpoint, body=body), policy.ttl_s)
