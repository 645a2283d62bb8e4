"""Who may call the model endpoints: required roles and scopes, and subject/org allowlists (policy `access:`).

The policy's top-level `access` applies to every model endpoint; a task's own `access` adds to it for requests
routed through that task (both must pass). A refused caller gets 403 `permission_error` naming exactly what is
missing, before the body is priced, admitted or sent anywhere. Allowlist entries are fnmatch globs, as the
model allow-lists are (`svc-*`); roles and scopes are literal names, all of which are required. Scopes come
from the token claim `GATEWAY_JWT_SCOPES_CLAIM` (default `scope`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from gateway.auth.principal import Principal
from gateway.errors import PermissionDeniedError


def _quoted(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


@dataclass(frozen=True)
class CallerRules:
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    subjects: tuple[str, ...] | None = None  # None: any subject
    orgs: tuple[str, ...] | None = None  # None: any org

    @property
    def empty(self) -> bool:
        return self == CallerRules()

    def refusal(self, principal: Principal) -> str | None:
        """Why `principal` may not call, or None when it may."""
        if self.orgs is not None and not any(fnmatchcase(principal.org, pattern) for pattern in self.orgs):
            return f"organization '{principal.org}' is not on the allowlist"
        if self.subjects is not None and not any(fnmatchcase(principal.subject, p) for p in self.subjects):
            return f"subject '{principal.subject}' is not on the allowlist"
        missing_roles = sorted(self.roles - principal.roles)
        if missing_roles:
            return f"missing role{'s' if len(missing_roles) > 1 else ''} {_quoted(missing_roles)}"
        missing_scopes = sorted(self.scopes - principal.scopes)
        if missing_scopes:
            plural = "s" if len(missing_scopes) > 1 else ""
            return f"missing scope{plural} {_quoted(missing_scopes)}"
        return None


@dataclass(frozen=True)
class CallerAccess:
    """The compiled rules: global ones and per task (global tasks by name)."""

    everywhere: CallerRules = CallerRules()
    by_task: Mapping[str, CallerRules] | None = None

    def check(self, principal: Principal, task: str | None) -> None:
        """Raise 403 `permission_error` naming what is missing; the pipeline calls it right after routing."""
        reason = self.everywhere.refusal(principal)
        where = "the model endpoints"
        if reason is None and task is not None and self.by_task:
            rules = self.by_task.get(task)
            if rules is not None:
                reason, where = rules.refusal(principal), f"task '{task}'"
        if reason is not None:
            raise PermissionDeniedError(f"Access to {where} denied: {reason}.", code="access_denied")
