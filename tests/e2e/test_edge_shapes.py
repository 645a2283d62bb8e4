"""OpenRouter's real wire through the gateway: shapes strict clients trip on arrive the way OpenAI sends them."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import serve

SOLO = "openai/gpt-4o-mini"
TOOLS = [{"type": "function", "function": {"name": "list_files", "description": "List files",
                                           "parameters": {"type": "object", "properties": {"glob": {}}}}}]


def test_streamed_tool_call_without_arguments_reaches_the_sdk_as_empty_object(gateway_url: str, token: str) -> None:
    sdk = openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)
    with sdk.chat.completions.stream(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "List files in Documents"}],
        tools=TOOLS, extra_body={"sim": {"tool_arguments": "omit"}},  # type: ignore[arg-type]
    ) as stream:
        final = stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert calls and all(json.loads(call.function.arguments) == {} for call in calls)
    assert final.choices[0].finish_reason == "tool_calls"


def test_a_circuit_opened_by_upstream_429s_answers_429_with_retry_after(sim: Sim, tmp_path: Path) -> None:
    """Repeated upstream 429s open the model's circuit; from then on the client still hears "rate limited"."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "retry: {max_attempts: 1}\n"
        "circuit_breaker: {min_requests: 3, failure_rate: 0.5, cooldown_s: 20, window_s: 30}\n"
    )
    sim.fault(model=SOLO, error=429, count=None, retry_after=1)
    with serve(create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None))) as server:
        token = mint_token(JWT_SECRET, org="acme", subject="alice")
        sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)
        for _ in range(3):  # the upstream's own 429s, passed on
            with pytest.raises(openai.RateLimitError):
                sdk.chat.completions.create(model=SOLO, messages=[{"role": "user", "content": "Hi"}])
        upstream_calls = sum(sim.stats()["requests_by_model"].values())
        with pytest.raises(openai.RateLimitError) as caught:
            sdk.chat.completions.create(model=SOLO, messages=[{"role": "user", "content": "Hi"}])
    answer = caught.value.response
    assert answer.status_code == 429
    assert answer.json()["error"]["type"] == "rate_limit_error"
    assert answer.json()["error"]["code"] == "circuit_open"
    assert 1 <= int(answer.headers["retry-after"]) <= 20
    assert sum(sim.stats()["requests_by_model"].values()) == upstream_calls  # the open circuit sent nothing
