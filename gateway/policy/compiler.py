"""Compile a validated PolicyDocument into lookup tables: aliases resolved, org overrides merged, rules built.

Everything that needs the whole document in view is checked here, so a policy that compiles can always
answer `resolve` without further surprises. Problems are collected, not raised one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.policy.access import TASK_PREFIX, AccessRules, is_literal
from gateway.policy.caller_access import CallerAccess, CallerRules
from gateway.policy.model_ids import is_valid_name, resolve_model_name, strip_openrouter_prefix
from gateway.policy.retry import CLASSES, merged, settings_for
from gateway.policy.schema import AccessPolicy, OrgPolicy, PolicyDocument, RetryPolicy, TaskOverride, TaskPolicy

Loc = tuple[str | int, ...]
# Null in an override means "none" only where the task itself allows none; elsewhere it means "keep the task's".
_NULLABLE_TASK_FIELDS = frozenset({"max_cost_usd", "timeout_s", "description"})
_LIMIT_FIELDS = (
    "rpm", "tpm", "max_concurrent", "subject_rpm", "subject_tpm", "subject_max_concurrent",
    "daily_budget_usd", "monthly_budget_usd", "max_completion_tokens", "unpriced_models",
    "burst", "rps", "subject_burst", "subject_rps",
)


@dataclass(frozen=True)
class ResolvedTask:
    name: str
    models: tuple[str, ...]
    params: Mapping[str, Any]
    pinned: frozenset[str]
    max_cost_usd: float | None
    timeout_s: float | None
    description: str | None
    retry: RetryPolicy | None = None  # the task's retry settings over the global ones; None: the global ones


@dataclass(frozen=True)
class OrgSettings:
    """Effective limits for one org; None means unlimited."""

    rpm: int | None
    tpm: int | None
    max_concurrent: int | None
    subject_rpm: int | None  # the same limits for each user (JWT subject) of the org
    subject_tpm: int | None
    subject_max_concurrent: int | None
    daily_budget_usd: float | None
    monthly_budget_usd: float | None
    max_completion_tokens: int
    unpriced_models: str = "ceiling"  # "refuse": model ids without a catalogue price are a 403 for this org
    # Totals by tag (issue 15): the tag keys whose cost, tokens and calls settlement counts, and for how long
    # after a tag's last call its counters are kept.
    totalled_tags: tuple[str, ...] = ()
    tag_retention_s: float = 0.0
    burst: int | None = None  # of `rpm`, how many may start at once (None: all); rps is per second
    rps: int | None = None
    subject_burst: int | None = None
    subject_rps: int | None = None


@dataclass(frozen=True)
class CompiledPolicy:
    aliases: Mapping[str, str]
    tasks: Mapping[str, ResolvedTask]
    org_tasks: Mapping[str, Mapping[str, ResolvedTask]]
    default_access: AccessRules
    org_access: Mapping[str, AccessRules]
    default_settings: OrgSettings
    org_settings: Mapping[str, OrgSettings]
    callers: CallerAccess = field(default_factory=CallerAccess)


class Issues:
    """Collects (location, message) pairs while compiling."""

    def __init__(self) -> None:
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))


def _compile_aliases(document: PolicyDocument, issues: Issues) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name, target in document.aliases.items():
        if not is_valid_name(name):
            issues.add(("aliases", name), "alias names use letters, digits, '_', '-', '.' (no '/' or ':')")
        elif name in document.tasks:
            issues.add(("aliases", name), f"'{name}' is also a task name; a request for it would be ambiguous")
        normalized = strip_openrouter_prefix(target.strip())
        if "/" not in normalized:
            issues.add(("aliases", name), f"must be an OpenRouter model id like 'openai/gpt-4o', got '{target}'"
                       " (aliases cannot point to other aliases or tasks)")
        aliases[name] = normalized
    return aliases


def _merge(task: TaskPolicy | None, override: TaskOverride) -> TaskPolicy:
    """Override keys that were written replace the task's; params merge key by key."""
    given = {
        field: getattr(override, field)
        for field in override.model_fields_set
        if getattr(override, field) is not None or field in _NULLABLE_TASK_FIELDS
    }
    if task is None:
        return TaskPolicy.model_validate(given)
    if "params" in given:
        given["params"] = {**task.params, **given["params"]}
    return task.model_copy(update=given)


def _check_retry(retry: RetryPolicy, loc: Loc, issues: Issues) -> None:
    for name in ("", *CLASSES):
        section = getattr(retry, name) if name else retry
        if name and section.base_delay_s is None and section.max_delay_s is None:
            continue  # a class that sets neither inherits both, already checked
        settings = settings_for(retry, name) if name else retry
        if settings.base_delay_s > settings.max_delay_s:
            where = (*loc, name) if name else loc
            issues.add((*where, "base_delay_s"), f"must be <= max_delay_s ({settings.max_delay_s:g})")


def _resolve_task(
    name: str, task: TaskPolicy, aliases: Mapping[str, str], loc: Loc, issues: Issues,
    retry: RetryPolicy | None = None,
) -> ResolvedTask:
    models: list[str] = []
    references: list[tuple[str, Loc]] = [(task.primary, (*loc, "primary"))]
    references += [(fallback, (*loc, "fallbacks", index)) for index, fallback in enumerate(task.fallbacks)]
    for reference, ref_loc in references:
        model = resolve_model_name(reference.strip(), aliases)
        if model is None:
            issues.add(ref_loc, f"unknown alias '{reference}' (model ids look like 'provider/model')")
        elif model not in models:
            models.append(model)
    # A null param means "no default": in an org override it removes the global task's value.
    params = {key: value for key, value in task.params.items() if value is not None}
    for index, key in enumerate(task.pin):
        if key not in params:
            issues.add((*loc, "pin", index), f"pinned parameter '{key}' has no value in params")
    task_retry = merged(retry, task.retry) if retry is not None and task.retry is not None else None
    if task_retry is not None:
        _check_retry(task_retry, (*loc, "retry"), issues)
    return ResolvedTask(name=name, models=tuple(models), params=MappingProxyType(params), pinned=frozenset(task.pin),
                        max_cost_usd=task.max_cost_usd, timeout_s=task.timeout_s, description=task.description,
                        retry=task_retry)


def _compile_tasks(document: PolicyDocument, aliases: Mapping[str, str], issues: Issues) -> dict[str, ResolvedTask]:
    tasks: dict[str, ResolvedTask] = {}
    for name, task in document.tasks.items():
        if not is_valid_name(name):
            issues.add(("tasks", name), "task names use letters, digits, '_', '-', '.' (no '/' or ':')")
        tasks[name] = _resolve_task(name, task, aliases, ("tasks", name), issues, document.retry)
    return tasks


def _compile_org_tasks(org: str, policy: OrgPolicy, document: PolicyDocument, aliases: Mapping[str, str],
                       tasks: Mapping[str, ResolvedTask], issues: Issues) -> dict[str, ResolvedTask]:
    merged_tasks = dict(tasks)
    for name, override in policy.tasks.items():
        loc: Loc = ("orgs", org, "tasks", name)
        base = document.tasks.get(name)
        if base is None and override.primary is None:
            issues.add((*loc, "primary"), f"required (task '{name}' is not defined under tasks:)")
            continue
        if base is None and not is_valid_name(name):
            issues.add(loc, "task names use letters, digits, '_', '-', '.' (no '/' or ':')")
        merged_tasks[name] = _resolve_task(name, _merge(base, override), aliases, loc, issues, document.retry)
    return merged_tasks


def _check_patterns(patterns: list[str], task_names: Mapping[str, object], loc: Loc, issues: Issues) -> None:
    for index, pattern in enumerate(patterns):
        if not pattern.strip():
            issues.add((*loc, index), "must not be empty")
        elif pattern.startswith(TASK_PREFIX) and is_literal(pattern):
            task = pattern[len(TASK_PREFIX) :]
            if task not in task_names:
                issues.add((*loc, index), f"unknown task '{task}'")


def _settings(document: PolicyDocument, org: OrgPolicy | None) -> OrgSettings:
    values = {field: getattr(document.defaults, field) for field in _LIMIT_FIELDS}
    if org is not None:
        values.update({field: getattr(org, field) for field in _LIMIT_FIELDS if field in org.model_fields_set})
    totals = document.totals
    return OrgSettings(**values, totalled_tags=tuple(totals.tags), tag_retention_s=totals.retention_days * 86_400.0)


def _access(document: PolicyDocument, org: OrgPolicy | None) -> AccessRules:
    """An org's allow replaces the default; its deny adds to it, so an org-wide ban cannot be undone per org."""
    defaults = document.defaults
    if org is None:
        return AccessRules(tuple(defaults.allow), tuple(defaults.deny))
    allow = org.allow if org.allow is not None else defaults.allow
    return AccessRules(tuple(allow), (*defaults.deny, *org.deny))


def _caller_rules(access: AccessPolicy) -> CallerRules:
    return CallerRules(
        roles=frozenset(access.roles), scopes=frozenset(access.scopes),
        subjects=None if access.subjects is None else tuple(access.subjects),
        orgs=None if access.orgs is None else tuple(access.orgs),
    )


def _callers(document: PolicyDocument) -> CallerAccess:
    by_task = {name: _caller_rules(task.access) for name, task in document.tasks.items() if task.access is not None}
    return CallerAccess(_caller_rules(document.access), MappingProxyType(by_task))


def compile_policy(document: PolicyDocument, issues: Issues) -> CompiledPolicy:
    aliases = _compile_aliases(document, issues)
    tasks = _compile_tasks(document, aliases, issues)
    org_tasks = {org: _compile_org_tasks(org, policy, document, aliases, tasks, issues)
                 for org, policy in document.orgs.items()}
    every_task = {name: None for table in (tasks, *org_tasks.values()) for name in table}
    _check_patterns(document.defaults.allow, every_task, ("defaults", "allow"), issues)
    _check_patterns(document.defaults.deny, every_task, ("defaults", "deny"), issues)
    for org, policy in document.orgs.items():
        _check_patterns(policy.allow or [], org_tasks[org], ("orgs", org, "allow"), issues)
        _check_patterns(policy.deny, org_tasks[org], ("orgs", org, "deny"), issues)
    _check_retry(document.retry, ("retry",), issues)
    return CompiledPolicy(
        aliases=MappingProxyType(aliases),
        tasks=MappingProxyType(tasks),
        org_tasks=MappingProxyType({org: MappingProxyType(table) for org, table in org_tasks.items()}),
        default_access=_access(document, None),
        org_access=MappingProxyType({org: _access(document, policy) for org, policy in document.orgs.items()}),
        default_settings=_settings(document, None),
        org_settings=MappingProxyType({org: _settings(document, policy) for org, policy in document.orgs.items()}),
        callers=_callers(document),
    )
