"""Error envelopes and statuses, credits, free-model limits and in-band (200 / mid-stream) failures."""

from __future__ import annotations

import httpx
import pytest

from tests.sim.conftest import AUTH, Sim, sse_events, user

MODEL = "openai/gpt-4o-mini"


def _envelope(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "user_id"} and body["user_id"].startswith("user_")
    assert body["error"]["code"] == status
    return body["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 408, 413, 422, 429, 500, 502, 503, 504, 524, 529])
def test_injected_statuses(sim: Sim, status: int) -> None:
    error = _envelope(sim.chat({"model": MODEL, "messages": user("hi")}, {"X-Sim-Error": str(status)}), status)
    assert error["message"]
    if status in (400, 502, 529):
        assert error["message"] == "Provider returned error"
        assert isinstance(error["metadata"]["raw"], str) and error["metadata"]["provider_name"] == "OpenAI"
        assert {"isDownstreamPipeClean", "isErrorUpstreamFault"} <= set(error["metadata"])
    if status == 524:
        assert error["message"] == "Request timed out. Please try again later."


def test_retry_after_on_429_and_503(sim: Sim) -> None:
    for status in (429, 503):
        response = sim.chat({"model": MODEL, "messages": user("hi"), "sim": {"error": status, "retry_after": 7}})
        assert response.headers["retry-after"] == "7"
    upstream = _envelope(sim.chat({"model": MODEL, "messages": user("hi"), "sim": {"error": "upstream_rate_limit"}}),
                         429)
    assert "temporarily rate-limited upstream" in upstream["metadata"]["raw"]


def test_auth_errors(sim: Sim) -> None:
    url = f"{sim.api}/chat/completions"
    body = {"model": MODEL, "messages": user("hi")}
    assert _envelope(sim.client.post(url, json=body), 401)["message"] == "No auth credentials found"
    bad = sim.client.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert _envelope(bad, 401)["message"] == "User not found."
    sim.configure(api_keys=["sk-or-v1-only"])
    assert sim.chat(body).status_code == 401
    assert sim.client.post(url, json=body, headers={"Authorization": "Bearer sk-or-v1-only"}).status_code == 200


@pytest.mark.parametrize(("body", "needle"), [
    ({"model": "nope/model", "messages": user("hi")}, "nope/model is not a valid model ID"),
    ({"model": MODEL, "messages": []}, "messages"),
    ({"model": MODEL}, "messages"),
    ({"model": MODEL, "messages": user("hi"), "stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ({"model": MODEL, "messages": user("hi"), "tools": [{"type": "function", "function": {"name": "x" * 65}}]},
     "64"),
    ({"model": MODEL, "messages": user("hi"), "reasoning": {"effort": "low"}, "reasoning_effort": "high"},
     "reasoning"),
    ({"model": MODEL, "messages": user("hi"), "provider": {"order": ["openai"], "colour": "red"}}, "'colour'"),
])
def test_validation_400s(sim: Sim, body: dict[str, object], needle: str) -> None:
    assert needle in _envelope(sim.chat(body), 400)["message"]


def test_prompt_without_messages_is_accepted(sim: Sim) -> None:
    assert sim.chat({"model": MODEL, "prompt": "Say hi"}).status_code == 200


def test_context_length_exceeded(sim: Sim) -> None:
    error = _envelope(sim.chat({"model": "google/gemini-2.5-flash-image", "messages": user("word " * 40000)}), 400)
    assert error["metadata"]["error_type"] == "context_length_exceeded"


def test_moderation_403(sim: Sim) -> None:
    text = "tell me about the forbidden-topic " + "x" * 300
    error = _envelope(sim.chat({"model": "openai/gpt-4o", "messages": user(text)}), 403)
    metadata = error["metadata"]
    assert metadata["reasons"] == ["misc"] and metadata["provider_name"] == "OpenAI"
    assert metadata["model_slug"] == "openai/gpt-4o"
    assert len(metadata["flagged_input"]) <= 100 and "..." in metadata["flagged_input"]
    assert "requires moderation on OpenAI" in error["message"]


def test_402_credit_precheck_math(sim: Sim) -> None:
    sim.configure(credits_usd=0.01)
    body = {"model": "openai/gpt-4o", "messages": user("hi"), "max_tokens": 5000}
    error = _envelope(sim.chat(body), 402)
    prompt_tokens = 3 + 3 + 1
    affordable = int((0.01 - prompt_tokens * 0.0000025) / 0.00001)
    assert error["message"] == (
        f"This request requires more credits, or fewer max_tokens. You requested up to 5000 tokens, but can only "
        f"afford {affordable}. To increase, visit https://openrouter.ai/settings/credits and add more credits")
    assert sim.chat({**body, "max_tokens": 500}).status_code == 200
    no_max = _envelope(sim.chat({"model": "openai/gpt-4o", "messages": user("hi")}), 402)
    assert "up to 16384 tokens" in no_max["message"]


def test_negative_balance_402_even_for_free(sim: Sim) -> None:
    sim.configure(credits_usd=0)
    _envelope(sim.chat({"model": "meta-llama/llama-3.3-70b-instruct:free", "messages": user("hi")}), 402)


def test_free_model_limits(sim: Sim) -> None:
    sim.configure(free_rpm=2, free_rpd=3)
    body = {"model": "meta-llama/llama-3.3-70b-instruct:free", "messages": user("hi")}
    assert [sim.chat(body).status_code for _ in range(2)] == [200, 200]
    limited = sim.chat(body)
    error = _envelope(limited, 429)
    assert error["message"].startswith("Rate limit exceeded: free-models-per-min")
    assert limited.headers["x-ratelimit-limit"] == "2" and limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) > 1_700_000_000_000
    assert error["metadata"]["headers"]["X-RateLimit-Limit"] == "2"
    sim.configure(free_rpm=100)
    assert sim.chat(body).status_code == 200
    daily = _envelope(sim.chat(body), 429)
    assert "free-models-per-day" in daily["message"]
    assert sim.chat({"model": "meta-llama/llama-3.3-70b-instruct", "messages": user("hi")}).status_code == 200


def test_error_in_200_body(sim: Sim) -> None:
    response = sim.chat({"model": MODEL, "messages": user("hi"), "sim": {"error": "error_in_200"}})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"error", "user_id"} and body["error"]["code"] == 502


def test_partial_200(sim: Sim) -> None:
    response = sim.chat({"model": MODEL, "messages": user("Tell me about Madrid"),
                         "sim": {"error": "partial_200", "error_after_tokens": 2}})
    choice = response.json()["choices"][0]
    assert response.status_code == 200 and choice["finish_reason"] == "error"
    assert choice["message"]["content"] == "You asked" and choice["error"]["code"] == 502
    assert response.json()["usage"]["cost"] == 0


@pytest.mark.parametrize("done", [False, True])
def test_mid_stream_unified_error(sim: Sim, done: bool) -> None:
    raw = sim.chat({"model": MODEL, "messages": user("Tell me about Madrid"), "stream": True,
                    "sim": {"error": "mid_stream", "error_after_tokens": 3, "done_after_error": done}}).content
    events = sse_events(raw)
    assert (events[-1] == "[DONE]") is done
    chunks = [e for e in events if e != "[DONE]"]
    assert len(chunks) == 4
    error = chunks[-1]
    assert error["error"]["code"] == 502 and error["choices"][0]["finish_reason"] == "error"
    assert error["id"] == chunks[0]["id"] and not any("usage" in c for c in chunks)


def test_mid_stream_legacy_error(sim: Sim) -> None:
    events = sse_events(sim.chat({"model": MODEL, "messages": user("Tell me about Madrid"), "stream": True,
                                  "sim": {"error": "mid_stream_legacy", "error_after_tokens": 1}}).content)
    assert set(events[-1]) == {"error", "user_id"} and "choices" not in events[-1]


def test_abrupt_disconnect(sim: Sim) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        sim.chat({"model": MODEL, "messages": user("Tell me about Madrid"), "stream": True,
                  "sim": {"error": "disconnect", "error_after_tokens": 2}})


def test_stall_then_continue(sim: Sim) -> None:
    body = {"model": MODEL, "messages": user("hi Madrid"), "stream": True,
            "sim": {"error": "stall", "stall_ms": 600, "error_after_tokens": 1}}
    request = httpx.stream("POST", f"{sim.api}/chat/completions", headers=AUTH, timeout=0.2, json=body)
    with request as response, pytest.raises(httpx.ReadTimeout):
        for _ in response.iter_bytes():
            pass
    # Without a read timeout the stalled stream resumes and completes normally.
    completed = sim.chat({**body, "sim": {"error": "stall", "stall_ms": 300, "error_after_tokens": 1}})
    assert sse_events(completed.content)[-1] == "[DONE]"


def test_unknown_route_uses_envelope(sim: Sim) -> None:
    _envelope(sim.client.get(f"{sim.api}/nothing-here"), 404)
