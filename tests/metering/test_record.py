from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import orjson

from gateway.metering import LedgerRecord, TokenUsage, messages_hash, prompt_hash
from gateway.metering.record import FIELD_NAMES, utc_timestamp

OPENROUTER_USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 80,
    "total_tokens": 200,
    "cost": 0.00042,
    "completion_tokens_details": {"reasoning_tokens": 30},
    "prompt_tokens_details": {"cached_tokens": 64},
}


def _start(body: dict[str, object], **kwargs: object) -> LedgerRecord:
    return LedgerRecord.start(request_id="r1", org="acme", subject="alice", task=None, model_requested="m",
                              model_routed="m", body=body, **kwargs)  # type: ignore[arg-type]


def test_usage_extraction_includes_reasoning_and_cached_tokens() -> None:
    assert TokenUsage.from_usage(OPENROUTER_USAGE) == TokenUsage(prompt=120, completion=80, reasoning=30, cached=64,
                                                                 cost_usd=0.00042)


def test_usage_extraction_tolerates_missing_and_malformed_figures() -> None:
    assert TokenUsage.from_usage(None) == TokenUsage()
    odd = {"prompt_tokens": "12", "completion_tokens": True, "completion_tokens_details": None, "cost": None}
    assert TokenUsage.from_usage(odd) == TokenUsage()


def test_add_usage_sums_fanned_out_choices() -> None:
    record = _start({"messages": []})
    record.add_usage(OPENROUTER_USAGE)
    record.add_usage(OPENROUTER_USAGE)
    record.add_usage(None)
    assert (record.prompt_tokens, record.completion_tokens, record.reasoning_tokens, record.cached_tokens) == (
        240, 160, 60, 128)
    assert record.cost_usd == 0.00084


def test_messages_hash_is_stable_under_key_order_and_sensitive_to_content() -> None:
    one = [{"role": "user", "content": "hi", "name": "a"}]
    same = [{"name": "a", "content": "hi", "role": "user"}]
    other = [{"role": "user", "content": "hi!", "name": "a"}]
    assert messages_hash(one) == messages_hash(same)
    assert messages_hash(one) != messages_hash(other)
    expected = hashlib.sha256(b'[{"content":"hi","name":"a","role":"user"}]').hexdigest()
    assert messages_hash(one) == expected


def test_start_reads_sampling_params_and_hashes_messages() -> None:
    messages = [{"role": "user", "content": "hello"}]
    body = {"messages": messages, "temperature": 0.7, "top_p": 0.9, "max_tokens": 256, "seed": 42, "n": 3,
            "stop": "END", "stream": True, "metadata": {"experiment": "e1"}}
    record = _start(body, tags_header="run=7", now=datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC))
    assert (record.temperature, record.top_p, record.max_tokens, record.seed, record.n) == (0.7, 0.9, 256, 42, 3)
    assert record.stop == ["END"]
    assert record.stream is True
    assert record.prompt_sha256 == prompt_hash(messages) == hashlib.sha256(b"hello").hexdigest()
    assert record.messages_sha256 == messages_hash(messages)
    assert record.tags == {"experiment": "e1", "run": "7"}
    assert record.timestamp == "2025-01-02T03:04:05.678Z"
    assert record.prompt is None


def test_max_completion_tokens_wins_and_unserialisable_values_are_dropped() -> None:
    record = _start({"messages": [], "max_completion_tokens": 10, "max_tokens": 99, "seed": 2**70,
                     "temperature": "hot", "stop": ["a", 1, "b"]})
    assert record.max_tokens == 10
    assert record.seed is None
    assert record.temperature is None
    assert record.stop == ["a", "b"]
    orjson.loads(record.to_json())  # a huge seed must not make the record unwritable


def test_prompt_text_is_kept_only_when_enabled_and_matches_the_hash() -> None:
    messages = [{"role": "user", "content": "secret plans"}]
    assert _start({"messages": messages}).prompt is None
    record = _start({"messages": messages}, capture_prompt=True)
    assert record.prompt is not None
    assert "secret plans" in record.prompt
    assert hashlib.sha256(record.prompt.encode()).hexdigest() == record.prompt_sha256


def test_json_round_trip_keeps_every_field() -> None:
    record = _start({"messages": [{"role": "user", "content": "x"}], "stop": ["\n"]}, tags_header="a=b")
    record.add_usage(OPENROUTER_USAGE)
    record.model_served, record.provider, record.status, record.ttft_ms = "m-2024", "OpenAI", 200, 12.5
    data = orjson.loads(record.to_json())
    assert set(data) == set(FIELD_NAMES)
    assert LedgerRecord.from_json(record.to_json()) == record


def test_from_dict_ignores_unknown_keys() -> None:
    record = _start({"messages": []})
    data = {**orjson.loads(record.to_json()), "added_in_a_later_version": 1}
    assert LedgerRecord.from_dict(data) == record


def test_timestamps_are_utc_with_z() -> None:
    stamp = utc_timestamp()
    assert stamp.endswith("Z")
    assert datetime.fromisoformat(stamp).utcoffset() is not None
