"""The key → principal step: unknown, revoked and expired keys, the one-second cache, and what reaches the logs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import structlog

from gateway.errors import AuthenticationError
from gateway.keys import MemoryApiKeyStore, generate_key, key_digest
from gateway.keys.resolver import ApiKeyResolver
from gateway.log import redact_secrets


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_key_resolves_to_its_org_subject_roles_and_limits() -> None:
    store = MemoryApiKeyStore()
    new = generate_key(org="acme", name="svc", subject="bot", roles=("user",), rpm=5, daily_usd=1.5)
    await store.create(key_digest(new.key), new.record)
    principal = await ApiKeyResolver(store).resolve(new.key)
    assert (principal.org, principal.subject, principal.roles) == ("acme", "bot", frozenset({"user"}))
    assert principal.key is not None
    assert (principal.key.id, principal.key.name, principal.key.rpm, principal.key.daily_usd) == (
        new.record.id, "svc", 5, 1.5)


async def test_only_the_hash_is_stored() -> None:
    store = MemoryApiKeyStore()
    new = generate_key(org="acme", name="svc")
    await store.create(key_digest(new.key), new.record)
    assert new.key not in repr(store.__dict__) and new.key[12:] not in str(new.record.to_json())


async def test_revocation_is_seen_once_the_cache_entry_is_a_second_old() -> None:
    store, clock = MemoryApiKeyStore(), Clock()
    new = generate_key(org="acme", name="svc")
    await store.create(key_digest(new.key), new.record)
    resolver = ApiKeyResolver(store, ttl_s=1.0, clock=clock)
    await resolver.resolve(new.key)
    await store.revoke("acme", new.record.id)
    clock.now += 0.5
    await resolver.resolve(new.key)  # still cached: this is the bounded window
    clock.now += 0.6
    with pytest.raises(AuthenticationError, match="revoked"):
        await resolver.resolve(new.key)


async def test_unknown_and_expired_keys_say_which_without_the_key() -> None:
    store, clock = MemoryApiKeyStore(), Clock()
    moment = datetime.fromtimestamp(clock.now, UTC)
    new = generate_key(org="acme", name="svc", expires_at=moment + timedelta(seconds=10))
    await store.create(key_digest(new.key), new.record)
    resolver = ApiKeyResolver(store, ttl_s=0.0, clock=clock)
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthenticationError) as unknown:
        await resolver.resolve("gwk-not-a-real-key-at-all")
    assert "no such key" in unknown.value.message and "not-a-real" not in unknown.value.message
    assert "not-a-real" not in str(logs)
    await resolver.resolve(new.key)
    clock.now += 11
    with structlog.testing.capture_logs() as logs, pytest.raises(AuthenticationError, match="expired"):
        await resolver.resolve(new.key)
    assert logs[0]["key_id"] == new.record.id and new.key not in str(logs)


def test_log_redaction_masks_api_keys_anywhere() -> None:
    key = generate_key(org="acme", name="x").key
    event = redact_secrets(None, "info", {"event": f"header was {key}", "detail": [f"Authorization: {key}"]})
    assert key not in str(event) and key[4:] not in str(event)


def test_records_round_trip_through_json() -> None:
    record = generate_key(org="acme", name="svc", roles=("a", "b"), tpm=10, monthly_usd=2.0).record
    revoked = dataclasses.replace(record, revoked=True)
    assert type(record).from_json(revoked.to_json()) == revoked
