"""Exact-match response cache: keys, stores, single-flight, and stream replay of cached answers."""

from gateway.cache.coalesce import Coalescer
from gateway.cache.key import CACHE_KEY_FIELDS, EXCLUDED_FIELDS, cache_key, canonical_request, is_deterministic
from gateway.cache.record import StreamRecorder, completion_from_stream
from gateway.cache.replay import replay_chat_stream
from gateway.cache.store import CacheStore, MemoryCacheStore, RedisCacheStore

__all__ = [
    "CACHE_KEY_FIELDS",
    "EXCLUDED_FIELDS",
    "CacheStore",
    "Coalescer",
    "MemoryCacheStore",
    "RedisCacheStore",
    "StreamRecorder",
    "cache_key",
    "canonical_request",
    "completion_from_stream",
    "is_deterministic",
    "replay_chat_stream",
]
