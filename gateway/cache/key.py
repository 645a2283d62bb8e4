"""What makes a request cacheable and under which key.

The key is a SHA-256 over everything in a request that can change the answer, scoped to one org.

The key is built from the body alone (the signature takes no headers), so a caller's token can never
reach it. Fields are excluded by name rather than included by an allow-list: a field we did not
think of (a new OpenRouter option, the simulator's `sim` knob) then splits the cache instead of
silently serving one request's answer to another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from gateway.limits.keys import PREFIX

# Fields that only change how the answer is delivered or recorded, never what it is. `stream` is
# here so a JSON and a streamed request share an entry (the replay rebuilds the SSE shape), and
# `stream_options` because the replay adds the usage chunk on its own when asked.
EXCLUDED_FIELDS: frozenset[str] = frozenset({"stream", "stream_options", "user", "metadata", "store"})

# The request fields known to change the answer. Documentation of intent: the key covers every
# field outside EXCLUDED_FIELDS, these and any other.
CACHE_KEY_FIELDS: frozenset[str] = frozenset(
    {
        "model", "models", "provider", "messages", "input", "instructions", "prompt",
        "temperature", "top_p", "top_k", "min_p", "top_a", "seed", "n",
        "max_tokens", "max_completion_tokens", "max_output_tokens", "stop",
        "frequency_penalty", "presence_penalty", "repetition_penalty", "logit_bias", "logprobs", "top_logprobs",
        "tools", "tool_choice", "parallel_tool_calls", "response_format", "text", "reasoning", "reasoning_effort",
        "modalities", "audio", "prediction", "plugins", "web_search_options", "transforms", "usage",
        "verbosity", "dimensions", "encoding_format", "sim",
    }
)


def cache_key(*, org: str, endpoint: str, body: Mapping[str, Any]) -> str:
    """`gw:{org}:cache:<sha256 hex>`; the org is a hash tag so the entry lives in the org's cluster slot.

    `body` must be the request as sent upstream (model after policy rewriting): two callers whose
    requests rewrite to the same model share the answer, two whose requests rewrite differently do not.
    """
    digest = hashlib.sha256(canonical_request(endpoint, body)).hexdigest()
    return f"{PREFIX}:{{{org}}}:cache:{digest}"


def canonical_request(endpoint: str, body: Mapping[str, Any]) -> bytes:
    """Canonical JSON of what the key covers: sorted keys at every depth, equivalent spellings folded."""
    fields = {
        name: _fold(value)
        for name, value in body.items()
        # An explicit null means "the default", the same as leaving the field out.
        if name not in EXCLUDED_FIELDS and value is not None
    }
    return orjson.dumps({"endpoint": endpoint, "body": fields}, option=orjson.OPT_SORT_KEYS)


def _fold(value: Any) -> Any:
    """`0.0` and `0`, `1.0` and `1` are the same request to a model: give them one spelling."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {key: _fold(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_fold(item) for item in value]
    return value


def is_deterministic(body: Mapping[str, Any]) -> bool:
    """Temperature 0 or an integer seed.

    A missing temperature is not deterministic: providers default to about 1. `n > 1` without a seed is
    never deterministic: the caller asked for several different samples, and a replay would return the
    same set every time.
    """
    seeded = _is_integer(body.get("seed"))
    if seeded:
        return True
    n = body.get("n")
    if _is_number(n) and n > 1:
        return False
    temperature = body.get("temperature")
    return _is_number(temperature) and temperature == 0


def _is_number(value: object) -> bool:
    # bool is an int subclass; `"temperature": false` is a malformed request, not temperature 0.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
