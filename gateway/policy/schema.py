"""The policy file as pydantic models: every section optional, unknown keys rejected, types strict.

Strict mode keeps YAML surprises out: `rpm: "100"` or `rpm: true` is an error rather than a silent coercion.
Cross-references (aliases used by tasks, pins without a value, org task overrides) are checked when the
document is compiled into a `Policy`, where the whole document is in view.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]
UnpricedModels = Literal["ceiling", "refuse"]
CapturePart = Literal["prompt", "output"]  # texts a call record keeps (opt-in; see gateway.metering.capture)

# The gateway owns these request fields; a task setting them would silently break routing.
RESERVED_PARAMS = frozenset({"model", "models", "messages"})
# Each totalled tag is one more counter written by every settlement that carries it.
MAX_TOTALLED_TAGS = 8


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _check_params(params: dict[str, Any]) -> dict[str, Any]:
    reserved = sorted(RESERVED_PARAMS.intersection(params))
    if reserved:
        raise ValueError(f"{', '.join(reserved)} cannot be set by a task (the gateway sets it)")
    return params


class CachePolicy(_Section):
    """Exact-match response cache: off unless the policy, a task, an org or the request asks for it."""

    enabled: bool = False
    ttl_s: PositiveFloat = 3600.0
    # Only requests that ask for a repeatable answer (temperature 0, or a seed) are served from the cache.
    deterministic_only: bool = True


class AccessPolicy(_Section):
    """Who may call the model endpoints (top level) or one task (under a task); all of it must hold."""

    roles: list[Annotated[str, Field(min_length=1)]] = []  # every role listed is required
    scopes: list[Annotated[str, Field(min_length=1)]] = []  # every scope listed is required
    subjects: list[Annotated[str, Field(min_length=1)]] | None = None  # allowlist (globs); null: anyone
    orgs: list[Annotated[str, Field(min_length=1)]] | None = None


class TaskPolicy(_Section):
    """A named task: which model serves it, what to try next, and the request defaults it imposes."""

    primary: str = Field(min_length=1)
    fallbacks: list[Annotated[str, Field(min_length=1)]] = []
    max_cost_usd: PositiveFloat | None = None
    params: dict[str, Any] = {}
    pin: list[str] = []
    timeout_s: PositiveFloat | None = None
    description: str | None = None
    cache: CachePolicy | None = None
    access: AccessPolicy | None = None
    # Keys given here replace the global `retry:` section's for this task (a class section as a whole).
    retry: RetryPolicy | None = None
    capture: list[CapturePart] = []

    _params_check = field_validator("params")(_check_params)


class TaskOverride(_Section):
    """An org's change to a task: only the keys given replace the global task's (params merge key by key)."""

    primary: str | None = Field(default=None, min_length=1)
    fallbacks: list[Annotated[str, Field(min_length=1)]] | None = None
    max_cost_usd: PositiveFloat | None = None
    params: dict[str, Any] | None = None
    pin: list[str] | None = None
    timeout_s: PositiveFloat | None = None
    description: str | None = None

    @field_validator("params")
    @classmethod
    def _params_check(cls, params: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if params is None else _check_params(params)


def _no_null_cap(value: object) -> object:
    if value is None:
        raise ValueError("must be a positive integer (null is not allowed: it sizes budget reservations)")
    return value


class Defaults(_Section):
    """Limits for every org without its own value; null means unlimited."""

    rpm: PositiveInt | None = 600
    tpm: PositiveInt | None = 1_000_000
    max_concurrent: PositiveInt | None = None
    # Per user (JWT subject) within an org; null means only the org's limits apply.
    subject_rpm: PositiveInt | None = None
    subject_tpm: PositiveInt | None = None
    subject_max_concurrent: PositiveInt | None = None
    # How many of `rpm` may start at once (null: all of them), and a separate per-second limit.
    burst: PositiveInt | None = None
    rps: PositiveInt | None = None
    subject_burst: PositiveInt | None = None
    subject_rps: PositiveInt | None = None
    daily_budget_usd: PositiveFloat | None = None
    monthly_budget_usd: PositiveFloat | None = None
    allow: list[str] = ["*"]
    deny: list[str] = []
    # Reserved against the budget when a request does not say max_tokens itself.
    max_completion_tokens: PositiveInt = 4096
    # Model ids without a catalogue price (routers like openrouter/auto, `~` aliases): reserve them at the price
    # ceiling ("ceiling"), or refuse them ("refuse", for orgs whose budget must never be approached blind).
    unpriced_models: UnpricedModels = "ceiling"

    _cap_check = field_validator("max_completion_tokens", mode="before")(_no_null_cap)


class OrgPolicy(_Section):
    """One org's overrides. A key left out inherits `defaults`; a key set to null means unlimited."""

    rpm: PositiveInt | None = None
    tpm: PositiveInt | None = None
    max_concurrent: PositiveInt | None = None
    subject_rpm: PositiveInt | None = None
    subject_tpm: PositiveInt | None = None
    subject_max_concurrent: PositiveInt | None = None
    burst: PositiveInt | None = None
    rps: PositiveInt | None = None
    subject_burst: PositiveInt | None = None
    subject_rps: PositiveInt | None = None
    daily_budget_usd: PositiveFloat | None = None
    monthly_budget_usd: PositiveFloat | None = None
    allow: list[str] | None = None
    deny: list[str] = []
    max_completion_tokens: PositiveInt | None = None
    unpriced_models: UnpricedModels = "ceiling"
    tasks: dict[str, TaskOverride] = {}
    cache: CachePolicy | None = None
    capture: list[CapturePart] = []

    _cap_check = field_validator("max_completion_tokens", mode="before")(_no_null_cap)


class RetryClassPolicy(_Section):
    """Retry settings for one class of failure; a key left out follows the `retry:` section's own value."""

    max_attempts: PositiveInt | None = None
    base_delay_s: NonNegativeFloat | None = None
    max_delay_s: PositiveFloat | None = None
    retry_after_cap_s: NonNegativeFloat | None = None


class RetryPolicy(_Section):
    max_attempts: PositiveInt = 3
    base_delay_s: NonNegativeFloat = 0.25
    max_delay_s: PositiveFloat = 8.0
    # Upstream Retry-After beyond this is not waited for: the attempt fails over instead.
    retry_after_cap_s: NonNegativeFloat = 10.0
    # Retries may add at most this fraction of recent traffic, so a struggling upstream is not stampeded.
    budget_ratio: Annotated[float, Field(ge=0, le=1)] = 0.2
    # Per class of failure (gateway/resilience/retry_classes.py): upstream 429s, 5xx (and connection
    # failures), timeouts. "429: back off up to 60 s, 10 attempts; 5xx: 3 attempts" is said here.
    rate_limited: RetryClassPolicy = RetryClassPolicy()
    server_errors: RetryClassPolicy = RetryClassPolicy()
    timeouts: RetryClassPolicy = RetryClassPolicy()


class BreakerPolicy(_Section):
    window_s: PositiveFloat = 30.0
    min_requests: PositiveInt = 10
    failure_rate: Fraction = 0.5
    cooldown_s: PositiveFloat = 30.0
    half_open_probes: PositiveInt = 1


class TimeoutPolicy(_Section):
    connect_s: PositiveFloat = 10.0
    first_byte_s: PositiveFloat = 60.0
    idle_s: PositiveFloat = 30.0
    total_s: PositiveFloat = 600.0


class TotalsPolicy(_Section):
    """Totals by tag: settlement counts cost, tokens and calls per org for each value of these tag keys
    (e.g. `run_id`, `session_id`), kept `retention_days` after a value's last call."""

    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    retention_days: PositiveFloat = 90.0

    @field_validator("tags")
    @classmethod
    def _unique(cls, tags: list[str]) -> list[str]:
        if len(set(tags)) != len(tags):
            raise ValueError("tag keys must be unique")
        if len(tags) > MAX_TOTALLED_TAGS:
            raise ValueError(f"at most {MAX_TOTALLED_TAGS} tag keys can be totalled")
        return tags

class ContextPolicy(_Section):
    """The context check before going upstream (gateway/policy/context.py says why the margins)."""

    enabled: bool = True
    # Refuse only when the prompt's text estimate exceeds context_length × margin + slack_tokens.
    margin: Annotated[float, Field(ge=1)] = 1.1
    slack_tokens: Annotated[int, Field(ge=0)] = 1000
    # Prompt + max_tokens over the context: lower max_tokens to fit, refuse with 400, or let the provider decide.
    overflow: Literal["clamp", "refuse", "pass"] = "clamp"


class PolicyDocument(_Section):
    aliases: dict[str, str] = {}
    defaults: Defaults = Defaults()
    tasks: dict[str, TaskPolicy] = {}
    orgs: dict[str, OrgPolicy] = {}
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: BreakerPolicy = BreakerPolicy()
    timeouts: TimeoutPolicy = TimeoutPolicy()
    # "gateway": the gateway walks the fallback list itself (retries, breaker, per-model metrics).
    # "native": one upstream call with OpenRouter's `models` array, letting OpenRouter fail over.
    upstream_fallbacks: Literal["gateway", "native"] = "gateway"
    cache: CachePolicy = CachePolicy()
    totals: TotalsPolicy = TotalsPolicy()
    access: AccessPolicy = AccessPolicy()
    context: ContextPolicy = ContextPolicy()
