"""API keys (issue 15): long-lived credentials with their own limits, stored hashed, accepted beside JWTs."""

from gateway.keys.model import API_KEY_PREFIX, ApiKeyRecord, NewApiKey, generate_key, key_digest
from gateway.keys.store import ApiKeyStore, MemoryApiKeyStore, RedisApiKeyStore

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyRecord",
    "ApiKeyStore",
    "MemoryApiKeyStore",
    "NewApiKey",
    "RedisApiKeyStore",
    "generate_key",
    "key_digest",
]
