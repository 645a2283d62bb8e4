"""The redaction processor on its own: secrets anywhere in an event are masked, ordinary fields are left alone."""

from __future__ import annotations

from gateway.log import REDACTED, redact_secrets

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsIm9yZ19pZCI6ImFjbWUifQ.c2lnbmF0dXJlLXNlY3JldA"
KEY = "sk-or-v1-0123456789abcdef0123456789abcdef"


def test_secrets_are_masked_wherever_they_sit() -> None:
    event = redact_secrets(None, "info", {
        "event": "upstream_call",
        "authorization": "Bearer anything-at-all",
        "Password": "hunter2",
        "detail": f"sent Bearer {JWT} and key {KEY} upstream",
        "headers": {"Authorization": f"Bearer {JWT}", "accept": "json", "nested": [KEY, "plain"]},
        "tokens": (JWT,),
        "model": "openai/gpt-4o-mini",
        "prompt_tokens": 12,
    })
    flat = repr(event)
    assert JWT not in flat and KEY not in flat and "anything-at-all" not in flat and "hunter2" not in flat
    assert event["authorization"] == REDACTED and event["Password"] == REDACTED
    assert event["detail"] == f"sent {REDACTED} and key {REDACTED} upstream"
    assert event["headers"]["Authorization"] == REDACTED and event["headers"]["nested"] == [REDACTED, "plain"]
    assert event["tokens"] == [REDACTED]
    # What is not a secret passes as it was: the processor does not blank whole lines.
    assert (event["model"], event["prompt_tokens"], event["headers"]["accept"]) == ("openai/gpt-4o-mini", 12, "json")
