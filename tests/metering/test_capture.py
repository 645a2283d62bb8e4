"""Call-record capture rules: the prompt text and its hash, the size cap, the header, per-choice entries, seeds."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from gateway.errors import InvalidRequestError
from gateway.metering.capture import (
    Capture,
    ChoiceOutput,
    capped,
    chat_choice_output,
    choice_entries,
    parse_capture_header,
    prompt_text,
    responses_output,
)
from gateway.metering.record import ERROR_MESSAGE_MAX_CHARS, PROMPT_MASK, LedgerRecord
from gateway.upstream.plan import Payloads


def _start(body: dict[str, object], **kwargs: object) -> LedgerRecord:
    return LedgerRecord.start(request_id="r1", org="acme", subject="alice", task=None, model_requested="m",
                              model_routed="m", body=body, **kwargs)  # type: ignore[arg-type]


def test_prompt_text_joins_every_message_text_in_order() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Look:"},
                                     {"type": "image_url", "image_url": {"url": "data:..."}},
                                     {"type": "text", "text": "what is it?"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t"}]},
        {"role": "tool", "content": "42"},
    ]
    assert prompt_text(messages) == "Be brief.\nLook:\nwhat is it?\n42"
    assert prompt_text("plain input") == "plain input"  # Responses / embeddings string input
    assert prompt_text(["one", "two"]) == "one\ntwo"  # embeddings batch
    assert prompt_text([[1, 2, 3]]) == ""  # token arrays carry no text
    responses_items = [{"role": "user", "content": [{"type": "input_text", "text": "hello"}]}]
    assert prompt_text(responses_items) == "hello"


def test_record_hashes_prompt_text_and_keeps_the_messages_hash_apart() -> None:
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    record = _start({"messages": messages}, endpoint="responses")
    assert record.prompt_sha256 == hashlib.sha256(b"S\nU").hexdigest()
    canonical = orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)
    assert record.messages_sha256 == hashlib.sha256(canonical).hexdigest()
    assert record.endpoint == "responses"
    assert record.prompt is None


def test_captured_prompt_is_capped_with_a_visible_mark() -> None:
    text = "x" * 50
    record = _start({"messages": [{"role": "user", "content": text}]}, capture=Capture(prompt=True, max_chars=10))
    assert record.prompt == "x" * 10 + "…[truncated 40 chars]"
    assert record.prompt_truncated is True
    assert record.prompt_sha256 == hashlib.sha256(text.encode()).hexdigest()  # the hash is of what was sent
    whole = _start({"messages": [{"role": "user", "content": "short"}]}, capture=Capture(prompt=True, max_chars=10))
    assert (whole.prompt, whole.prompt_truncated) == ("short", False)
    assert hashlib.sha256(whole.prompt.encode()).hexdigest() == whole.prompt_sha256
    assert capped("abc", 3) == ("abc", False)


def test_capture_header_names_prompt_and_output_only() -> None:
    assert parse_capture_header(None) == frozenset()
    assert parse_capture_header(" Prompt , output") == {"prompt", "output"}
    with pytest.raises(InvalidRequestError) as raised:
        parse_capture_header("prompt,headers")
    assert "headers" in raised.value.message


def test_choice_entries_carry_seed_per_copy_and_text_only_when_captured() -> None:
    outputs = [ChoiceOutput("stop", "first answer"), ChoiceOutput("length", "second")]
    assert choice_entries(outputs, 11, Capture()) == [
        {"index": 0, "finish_reason": "stop", "seed": 11},
        {"index": 1, "finish_reason": "length", "seed": 12},
    ]
    captured = choice_entries(outputs, None, Capture(output=True, max_chars=6))
    assert captured[0] == {"index": 0, "finish_reason": "stop", "seed": None, "text": "first …[truncated 6 chars]",
                           "truncated": True}
    assert captured[1] == {"index": 1, "finish_reason": "length", "seed": None, "text": "second"}


def test_answer_outputs_are_read_from_chat_and_responses_shapes() -> None:
    choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Paris"}}
    assert chat_choice_output(choice, capture=True) == ChoiceOutput("stop", "Paris")
    assert chat_choice_output(choice, capture=False) == ChoiceOutput("stop", None)
    answer = {"status": "completed", "output": [
        {"type": "reasoning", "summary": []},
        {"type": "message", "content": [{"type": "output_text", "text": "Hel"}, {"type": "output_text", "text": "lo"}]},
    ]}
    assert responses_output(answer, capture=True) == ChoiceOutput("completed", "Hello")


def test_error_message_is_redacted_bounded_and_does_not_echo_an_uncaptured_prompt() -> None:
    record = _start({"messages": []})
    record.fail("Provider said: Bearer abc.def and sk-or-v1-0123456789 " + "y" * 2000)
    assert record.error_message is not None
    assert "sk-or-v1" not in record.error_message and "abc.def" not in record.error_message
    assert len(record.error_message) <= ERROR_MESSAGE_MAX_CHARS + len("…[truncated 99999 chars]")
    prompt = [{"role": "user", "content": "my private question"}]
    record.fail("Invalid input: 'my private question' is not allowed", prompt)
    assert record.error_message == f"Invalid input: '{PROMPT_MASK}' is not allowed"


def test_seeded_copies_get_consecutive_seeds_and_unseeded_copies_share_one_body() -> None:
    seeded = Payloads({"model": "m", "seed": 11, "messages": []}).copies(3)
    assert [orjson.loads(p.for_model("m"))["seed"] for p in seeded] == [11, 12, 13]
    assert [orjson.loads(p.for_model("other"))["seed"] for p in seeded] == [11, 12, 13]  # fallbacks keep the seed
    plain = Payloads({"model": "m", "messages": []})
    assert plain.copies(3) == [plain, plain, plain]
    assert len(Payloads({"model": "m", "seed": 5}).copies(1)) == 1
