"""The compiled policy: turns a request's `model` into a Route for an org, and applies task params to a body."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.auth.principal import Principal
from gateway.errors import InvalidRequestError, PermissionDeniedError
from gateway.policy.access import AccessRules
from gateway.policy.compiler import CompiledPolicy, Issues, OrgSettings, ResolvedTask, compile_policy
from gateway.policy.errors import PolicyError, Problem, render_path
from gateway.policy.model_ids import resolve_model_name
from gateway.policy.schema import PolicyDocument, RetryPolicy

# Either spelling limits the completion; a client that sent one has set "the" max tokens.
_MAX_TOKENS_KEYS = ("max_tokens", "max_completion_tokens")

LineFinder = Callable[[Sequence[str | int]], int | None]


@dataclass(frozen=True)
class Route:
    """Where one request goes: concrete OpenRouter ids (primary first) and the task's request shaping."""

    requested: str
    task: str | None
    models: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    pinned: frozenset[str] = frozenset()
    max_cost_usd: float | None = None
    timeout_s: float | None = None
    # The task's own retry settings (global ones merged under them); None: the caller's global ones.
    retry: RetryPolicy | None = None


class Policy:
    """An immutable, validated policy. Building one from a document checks every cross-reference."""

    def __init__(self, document: PolicyDocument, source: str = "<policy>", *, line_of: LineFinder | None = None):
        self.document = document
        self.source = source
        issues = Issues()
        self._compiled: CompiledPolicy = compile_policy(document, issues)
        if issues.items:
            raise PolicyError(source, [Problem(render_path(loc), message, line_of(loc) if line_of else None)
                                       for loc, message in issues.items])

    @classmethod
    def empty(cls) -> Policy:
        return cls(PolicyDocument(), "<built-in empty policy>")

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(self._compiled.tasks)

    def org_settings(self, org: str) -> OrgSettings:
        return self._compiled.org_settings.get(org, self._compiled.default_settings)

    def capture_for(self, org: str, task: str | None) -> frozenset[str]:
        """The texts the org's and the task's policy ask call records to keep ("prompt", "output")."""
        document = self.document
        org_policy = document.orgs.get(org)
        task_policy = document.tasks.get(task) if task is not None else None
        return frozenset((org_policy.capture if org_policy else []) + (task_policy.capture if task_policy else []))

    def resolve(self, model: str | None, org: str) -> Route:
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequestError("You must provide a model parameter", param="model")
        name = model.strip()
        task = self._compiled.org_tasks.get(org, self._compiled.tasks).get(name)
        if task is not None:
            return self._task_route(model, task, org)
        model_id = resolve_model_name(name, self._compiled.aliases)
        if model_id is None:
            raise InvalidRequestError(f"Unknown task or alias '{name}'", param="model", code="unknown_task")
        if not self._access(org).permits_model(model_id):
            raise PermissionDeniedError(f"Model '{model_id}' is not allowed for organization '{org}'", param="model")
        return Route(requested=model, task=None, models=(model_id,))

    def _task_route(self, requested: str, task: ResolvedTask, org: str) -> Route:
        access = self._access(org)
        if not access.permits_task(task.name):
            raise PermissionDeniedError(f"Task '{task.name}' is not allowed for organization '{org}'", param="model")
        primary = task.models[0]
        if not access.permits_model(primary):
            raise PermissionDeniedError(
                f"Model '{primary}' (primary of task '{task.name}') is not allowed for organization '{org}'",
                param="model",
            )
        # Fallbacks are a resilience aid, not a promise: ones the org may not use are skipped, not an error.
        models = tuple(candidate for candidate in task.models if access.permits_model(candidate))
        return Route(requested=requested, task=task.name, models=models, params=task.params, pinned=task.pinned,
                     max_cost_usd=task.max_cost_usd, timeout_s=task.timeout_s, retry=task.retry)

    def check_caller(self, principal: Principal, route: Route) -> None:
        """403 `permission_error` naming the missing role, scope or allowlist entry (policy `access:`, globally
        and for the route's task). The pipeline calls it right after `resolve`, before pricing or admission."""
        self._compiled.callers.check(principal, route.task)

    def permits_model(self, org: str, model_id: str) -> bool:
        """Whether the org's allow/deny lists let it use `model_id` (what `/v1/models` lists for it)."""
        return self._access(org).permits_model(model_id)

    def _access(self, org: str) -> AccessRules:
        return self._compiled.org_access.get(org, self._compiled.default_access)

    def apply_params(self, body: dict[str, Any], route: Route) -> None:
        """Fill task params the client left unset (null counts as unset); pinned params always win."""
        for key, value in route.params.items():
            pinned = key in route.pinned
            if not pinned and _client_set(body, key):
                continue
            if pinned and key in _MAX_TOKENS_KEYS:
                for synonym in _MAX_TOKENS_KEYS:
                    body.pop(synonym, None)
            # Deep copy: the route's params are shared by every request and must never be mutated through a body.
            body[key] = copy.deepcopy(value)
        body["model"] = route.models[0]


def _client_set(body: Mapping[str, Any], key: str) -> bool:
    keys = _MAX_TOKENS_KEYS if key in _MAX_TOKENS_KEYS else (key,)
    return any(body.get(candidate) is not None for candidate in keys)
