"""The upstream-side wiring through a real gateway and the simulator on real sockets: tool calls without
arguments, retry settings per task and status class, attribution headers, and circuits opened by upstream 429s
shared by two replicas on a real Redis."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, UPSTREAM_KEY, Sim, gateway_settings
from tests.e2e.keys_support import flushed
from tests.servers import ServerThread, serve

SOLO = "openai/gpt-4o-mini"
TOOLS = [{"type": "function", "function": {"name": "list_files", "description": "List files",
                                           "parameters": {"type": "object", "properties": {"glob": {}}}}}]
TOOL_CALL = {"model": SOLO, "tools": TOOLS, "sim": {"tool_arguments": "omit"},
             "messages": [{"role": "user", "content": "List files in Documents"}]}
RETRY_POLICY = f"""
retry:
  max_attempts: 2
  base_delay_s: 0.01
  max_delay_s: 0.02
  retry_after_cap_s: 0.05
  budget_ratio: 1.0
circuit_breaker: {{min_requests: 1000000}}
tasks:
  batch:
    primary: {SOLO}
    retry: {{server_errors: {{max_attempts: 4}}, rate_limited: {{max_attempts: 3}}, timeouts: {{max_attempts: 5}}}}
  once:
    primary: {SOLO}
    retry: {{max_attempts: 1}}
"""


def _token(org: str = "acme") -> str:
    return mint_token(JWT_SECRET, org=org, subject="alice", roles=["user"])


@contextmanager
def _gateway(sim: Sim, tmp_path: Path, policy: str | None = None, **settings: object) -> Iterator[ServerThread]:
    overrides: dict[str, object] = {"redis_url": None, **settings}
    if policy is not None:
        path = tmp_path / f"policy-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(policy)
        overrides["policy_file"] = str(path)
    with serve(create_app(gateway_settings(sim.base_url, **overrides))) as server:
        yield server


def _model_calls(sim: Sim) -> int:
    return sum(sim.stats()["requests_by_model"].values())


def test_a_json_tool_call_without_arguments_reaches_the_sdk_as_an_empty_object(
    gateway_url: str, token: str, sim: Sim
) -> None:
    # The simulator really omits the field: the gateway is what adds it.
    raw = httpx.post(f"{sim.base_url}/chat/completions", json=TOOL_CALL, timeout=10,
                     headers={"authorization": f"Bearer {UPSTREAM_KEY}"}).json()
    assert all("arguments" not in call["function"] for call in raw["choices"][0]["message"]["tool_calls"])

    sdk = openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)
    completion = sdk.chat.completions.create(
        model=SOLO, messages=TOOL_CALL["messages"], tools=TOOLS,  # type: ignore[arg-type]
        extra_body={"sim": {"tool_arguments": "omit"}},
    )
    calls = completion.choices[0].message.tool_calls or []
    assert calls and all(call.function.arguments == "{}" for call in calls)
    assert all(json.loads(call.function.arguments) == {} for call in calls)
    assert completion.choices[0].finish_reason == "tool_calls"


def test_a_streamed_tool_call_without_arguments_gets_an_empty_object_fragment(gateway_url: str, token: str) -> None:
    answer = httpx.post(f"{gateway_url}/chat/completions", json={**TOOL_CALL, "stream": True}, timeout=30,
                        headers={"authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    fragments = _streamed_arguments(answer.text)
    assert fragments and all(arguments == "{}" for arguments in fragments.values())
    assert '"finish_reason":"tool_calls"' in answer.text.replace(" ", "")

    sdk = openai.OpenAI(base_url=gateway_url, api_key=token, max_retries=0)
    stream = sdk.chat.completions.create(model=SOLO, messages=TOOL_CALL["messages"], tools=TOOLS,  # type: ignore[arg-type]
                                         stream=True, extra_body={"sim": {"tool_arguments": "omit"}})
    streamed = "".join(call.function.arguments or "" for chunk in stream for choice in chunk.choices
                       for call in choice.delta.tool_calls or [] if call.function)
    assert json.loads(streamed) == {}


def _streamed_arguments(text: str) -> dict[int, str]:
    fragments: dict[int, str] = {}
    for line in text.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        for choice in json.loads(line[6:]).get("choices", []):
            for call in choice["delta"].get("tool_calls") or []:
                piece = (call.get("function") or {}).get("arguments") or ""
                fragments[call["index"]] = fragments.get(call["index"], "") + piece
    return fragments


def test_cached_tool_calls_without_arguments_replay_an_empty_object(gateway_url: str, token: str, sim: Sim) -> None:
    headers = {"authorization": f"Bearer {token}", "x-gateway-cache": "on"}
    # A prompt of its own: the session's gateway may keep its cache in Redis across runs.
    fresh = {**TOOL_CALL, "messages": [{"role": "user", "content": f"List files in {uuid.uuid4()}"}]}
    streamed = {"stream": True, "stream_options": {"include_usage": True}}  # a stream with usage fills the cache
    answers = []
    for body in ({**fresh, "temperature": 0}, {**fresh, "temperature": 0, **streamed},
                 {**fresh, "seed": 7, **streamed}, {**fresh, "seed": 7}):
        answers.append(httpx.post(f"{gateway_url}/chat/completions", json=body, headers=headers, timeout=30))
    assert [answer.headers["x-gateway-cache"] for answer in answers] == ["miss", "hit", "miss", "hit"]
    for answer in answers[0], answers[3]:
        assert [call["function"]["arguments"] for call in answer.json()["choices"][0]["message"]["tool_calls"]]\
            == ["{}"]
    for answer in answers[1], answers[2]:
        assert _streamed_arguments(answer.text) == {0: "{}"}
    assert _model_calls(sim) == 2


@pytest.mark.parametrize(("error", "model", "attempts"), [
    (500, "batch", 4),  # the task's server_errors class
    (500, SOLO, 2),  # the global setting
    (500, "once", 1),  # the task's own max_attempts, for every class
    (429, "batch", 3),  # the task's rate_limited class
    (429, SOLO, 2),
    (524, "batch", 5),  # the task's timeouts class
    (524, SOLO, 2),
])
def test_retry_settings_per_task_and_class_decide_the_upstream_attempts(
    sim: Sim, tmp_path: Path, error: int, model: str, attempts: int
) -> None:
    sim.fault(model=SOLO, error=error, count=None, retry_after=0)
    try:
        with _gateway(sim, tmp_path, RETRY_POLICY) as server:
            answer = httpx.post(f"{server.url}/v1/chat/completions", timeout=30,
                                headers={"authorization": f"Bearer {_token()}"},
                                json={"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]})
    finally:
        sim.control.delete("/_sim/faults").raise_for_status()
    assert answer.status_code == {500: 502, 429: 429, 524: 504}[error], answer.text  # README "Errors"
    assert sim.stats()["requests_by_model"] == {SOLO: attempts}


@pytest.mark.parametrize("stream", [False, True])
def test_a_tasks_retry_settings_hold_on_the_responses_api_and_streams(sim: Sim, tmp_path: Path, stream: bool) -> None:
    sim.fault(model=SOLO, error=500, count=None)
    try:
        with _gateway(sim, tmp_path, RETRY_POLICY) as server:
            headers = {"authorization": f"Bearer {_token()}"}
            responses = httpx.post(f"{server.url}/v1/responses", headers=headers, timeout=30,
                                   json={"model": "batch", "input": "x", "stream": stream})
            chat = httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30,
                              json={"model": "batch", "stream": stream, "messages": [{"role": "user", "content": "x"}]})
    finally:
        sim.control.delete("/_sim/faults").raise_for_status()
    assert responses.status_code == chat.status_code == 502, (responses.text, chat.text)
    assert sim.stats()["requests_by_model"] == {SOLO: 8}  # 4 attempts each, the task's server_errors setting


def test_the_clients_attribution_reaches_openrouter_only_when_passing_it_is_on(sim: Sim, tmp_path: Path) -> None:
    client_headers = {"authorization": f"Bearer {_token()}", "http-referer": "https://notes.example.com",
                      "x-title": "Notes App", "x-private": "not for upstream"}
    body = {"model": SOLO, "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}
    calls = [("/chat/completions", body), ("/chat/completions", {**body, "stream": True}),
             ("/responses", {"model": SOLO, "input": "x"}),
             ("/embeddings", {"model": "openai/text-embedding-3-small", "input": "x"})]
    for passing in (True, False):
        with _gateway(sim, tmp_path, pass_client_attribution=passing, app_referer="https://gw.example.org",
                      app_title="Our Gateway") as server:
            for path, call in calls:
                answer = httpx.post(f"{server.url}/v1{path}", json=call, headers=client_headers, timeout=30)
                assert answer.status_code == 200, answer.text
    model_paths = ("/chat/completions", "/responses", "/embeddings")
    upstream = [record["headers"] for record in sim.requests() if record["path"].endswith(model_paths)]
    assert len(upstream) == 2 * len(calls)
    passed, own = upstream[:len(calls)], upstream[len(calls):]
    assert all(headers["http-referer"] == "https://notes.example.com" for headers in passed)
    assert all(headers["x-title"] == "Notes App" for headers in passed)
    assert all(headers["http-referer"] == "https://gw.example.org" for headers in own)
    assert all(headers["x-title"] == "Our Gateway" for headers in own)
    assert all("x-private" not in headers for headers in upstream)
    assert all(headers["authorization"] == f"Bearer {UPSTREAM_KEY}" for headers in upstream)


def test_a_circuit_opened_by_429s_answers_429_with_retry_after_on_every_replica(
    sim: Sim, tmp_path: Path, redis_url: str
) -> None:
    policy = ("retry: {max_attempts: 1}\n"
              "circuit_breaker: {min_requests: 3, failure_rate: 0.5, cooldown_s: 20, window_s: 30}\n")
    sim.fault(model=SOLO, error=429, count=None, retry_after=1)
    shared = flushed(redis_url)
    try:
        with _gateway(sim, tmp_path, policy, redis_url=shared) as first, \
                _gateway(sim, tmp_path, policy, redis_url=shared) as second:
            upstream = openai.OpenAI(base_url=f"{first.url}/v1", api_key=_token(), max_retries=0)
            for _ in range(3):  # the upstream's own 429s, passed on, open the circuit
                with pytest.raises(openai.RateLimitError) as passed_on:
                    upstream.chat.completions.create(model=SOLO, messages=[{"role": "user", "content": "Hi"}])
                assert passed_on.value.response.json()["error"].get("code") != "circuit_open"
            calls = _model_calls(sim)
            answers = [httpx.post(f"{server.url}/v1/chat/completions", timeout=30,
                                  headers={"authorization": f"Bearer {_token()}"},
                                  json={"model": SOLO, "messages": [{"role": "user", "content": "Hi"}]})
                       for server in (first, second)]
            answers.append(httpx.post(f"{second.url}/v1/chat/completions", timeout=30,
                                      headers={"authorization": f"Bearer {_token()}"},
                                      json={"model": SOLO, "stream": True,
                                            "messages": [{"role": "user", "content": "Hi"}]}))
    finally:
        sim.control.delete("/_sim/faults").raise_for_status()
    for answer in answers:
        assert answer.status_code == 429, answer.text
        assert answer.json()["error"]["type"] == "rate_limit_error" and answer.json()["error"]["code"] == "circuit_open"
        assert 1 <= int(answer.headers["retry-after"]) <= 20
    assert _model_calls(sim) == calls == 3  # the open circuit sent nothing, on either replica, streamed or not


def test_a_task_moves_to_its_fallback_at_once_while_its_primarys_429_circuit_is_open(
    sim: Sim, tmp_path: Path
) -> None:
    fallback = "anthropic/claude-sonnet-4.5"
    policy = ("retry: {max_attempts: 1}\n"
              "circuit_breaker: {min_requests: 3, failure_rate: 0.5, cooldown_s: 20, window_s: 30}\n"
              f"tasks:\n  writer: {{primary: {SOLO}, fallbacks: [{fallback}]}}\n")
    sim.fault(model=SOLO, error=429, count=3, retry_after=1)
    try:
        with _gateway(sim, tmp_path, policy) as server:
            headers = {"authorization": f"Bearer {_token()}"}
            body = {"model": SOLO, "messages": [{"role": "user", "content": "Hi"}]}
            opened = [httpx.post(f"{server.url}/v1/chat/completions", headers=headers, json=body, timeout=30)
                      for _ in range(3)]
            served = httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=30,
                                json={**body, "model": "writer"})
    finally:
        sim.control.delete("/_sim/faults").raise_for_status()
    assert [answer.status_code for answer in opened] == [429, 429, 429]
    assert served.status_code == 200, served.text
    assert served.headers["x-gateway-model-served"] == fallback
    assert sim.stats()["requests_by_model"] == {SOLO: 3, fallback: 1}  # the open primary was not tried

