"""Configuration from the environment; every field is documented in the README with its default."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


def _env(name: str) -> AliasChoices:
    """Contract names (OPENROUTER_*, REDIS_URL) have no GATEWAY_ prefix; accept the prefixed form too."""
    return AliasChoices(name, f"GATEWAY_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    # Upstream
    openrouter_api_key: SecretStr | None = Field(default=None, validation_alias=_env("OPENROUTER_API_KEY"))
    openrouter_base_url: str = Field(default=DEFAULT_OPENROUTER_BASE_URL, validation_alias=_env("OPENROUTER_BASE_URL"))
    app_referer: str = "https://github.com/gateway/gateway"
    app_title: str = "gateway"
    upstream_connect_timeout_s: float = 10.0
    upstream_read_timeout_s: float = 600.0
    upstream_max_connections: int = 1000
    models_cache_ttl_s: float = 300.0

    # Shared state
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL", "GATEWAY_REDIS_URL"))
    redis_max_connections: int = 200
    redis_cluster: bool = False  # REDIS_URL names a node of a Redis Cluster (scripts then go through redis-py)
    store_fail_mode: Literal["closed", "open"] = "closed"
    spool_dir: str = "var/spool"
    spool_replay_interval_s: float = 5.0

    # Budgets
    reservation_ttl_s: float = 900.0
    # USD per million tokens reserved for a model id without a catalogue price (routers, `~` aliases); unset, the
    # dearest prompt and completion prices in the catalogue.
    unpriced_prompt_usd_per_mtok: float | None = Field(default=None, ge=0)
    unpriced_completion_usd_per_mtok: float | None = Field(default=None, ge=0)
    # How long a settled call's id is remembered so a replayed settlement is not counted twice (the spool replays
    # as soon as Redis answers); Redis holds one zset entry per settlement of this window, per org.
    settlement_idempotency_s: float = Field(default=900.0, gt=0)
    budget_alert_webhook_url: str | None = None
    shutdown_drain_s: float = 10.0
    # The server's grace period after SIGTERM (`gateway serve --graceful-timeout` sets it): streams still open a
    # second before it ends get a final error event and are settled, instead of being cut by the server.
    graceful_timeout_s: float | None = None

    # Identity
    jwt_secret: SecretStr | None = None
    jwt_algorithms: list[str] = ["HS256"]
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    jwt_leeway_s: float = 30.0
    jwt_org_claim: str = "org_id"
    jwt_subject_claim: str = "sub"
    jwt_roles_claim: str = "roles"
    # PEM file with one or more public keys or certificates (RS*/PS*/ES*/EdDSA), used alongside the JWKS.
    jwt_public_key_file: str | None = None
    jwks_cache_ttl_s: float = 300.0
    # Floor between JWKS fetches: unknown `kid`s are attacker-controlled, so they must not drive fetches.
    jwks_min_refresh_interval_s: float = 30.0
    jwks_fetch_timeout_s: float = 5.0
    # Verified tokens are remembered (by SHA-256) so repeat requests skip signature checks.
    jwt_cache_size: int = 10_000
    jwt_cache_max_age_s: float = 60.0

    # Metering
    ledger_sinks: list[Literal["memory", "redis", "jsonl"]] | None = None  # None: redis with REDIS_URL, else memory
    ledger_dir: str = "var/ledger"
    ledger_stream_key: str = "gw:ledger"
    ledger_maxlen: int = 1_000_000
    ledger_capture_prompts: bool = False
    # How long a stream cut before its usage chunk waits for OpenRouter's `/generation` record before it is
    # settled with an estimate instead (0 = never look it up).
    reconcile_timeout_s: float = 10.0
    metrics_org_label: bool = True
    # OTLP/HTTP traces URL (e.g. http://collector:4318/v1/traces); unset, tracing is off and the OpenTelemetry SDK
    # is never imported. Needs the `otel` extra. Exporter headers (auth) come from OTEL_EXPORTER_OTLP_TRACES_HEADERS.
    otel_endpoint: str | None = None
    otel_service_name: str = "gateway"

    # Policy
    policy_file: str | None = None

    # HTTP surface
    max_body_bytes: int = 16 * 1024 * 1024
    max_n: int = 8
    log_level: str = "info"
    access_log: bool = True

    def upstream_key(self) -> str:
        return self.openrouter_api_key.get_secret_value() if self.openrouter_api_key else ""
