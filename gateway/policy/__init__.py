"""Task policies: which model serves each task, per-org access and limits, retry/breaker/timeout settings."""

from gateway.policy.compiler import OrgSettings
from gateway.policy.cost_cap import fit_max_tokens
from gateway.policy.errors import PolicyError, Problem
from gateway.policy.loader import load_policy, parse_policy
from gateway.policy.policy import Policy, Route
from gateway.policy.schema import (
    BreakerPolicy,
    OrgPolicy,
    PolicyDocument,
    RetryPolicy,
    TaskPolicy,
    TimeoutPolicy,
)
from gateway.policy.store import PolicyStore

__all__ = [
    "BreakerPolicy",
    "OrgPolicy",
    "OrgSettings",
    "Policy",
    "PolicyDocument",
    "PolicyError",
    "PolicyStore",
    "Problem",
    "RetryPolicy",
    "Route",
    "TaskPolicy",
    "TimeoutPolicy",
    "fit_max_tokens",
    "load_policy",
    "parse_policy",
]
