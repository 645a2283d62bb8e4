"""The edge checks wired into the pipeline, through a real gateway and the simulator on real sockets: who may
call (`access:`), the context check (`context:`), models OpenRouter added after the catalogue was fetched, and
message shapes that must pass untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.servers import ServerThread, serve

SOLO = "openai/gpt-4o-mini"
SMALL_CONTEXT = "google/gemini-2.5-flash-image"  # 32,768 tokens in the simulator's catalogue
SMALL_CONTEXT_LENGTH = 32768
OTHER = "openai/gpt-4o"
POLICY = f"""
retry: {{max_attempts: 1}}
defaults:
  max_completion_tokens: {SMALL_CONTEXT_LENGTH}
access:
  scopes: [models:invoke]
  orgs: [acme, "globex-*"]
tasks:
  planner:
    primary: {SOLO}
    access: {{roles: [planner]}}
  tight:
    primary: {SMALL_CONTEXT}
  roomy:
    primary: {SMALL_CONTEXT}
    fallbacks: [{SOLO}]
orgs:
  globex-us:
    tasks:
      planner: {{primary: {OTHER}}}
"""


@pytest.fixture
def gateway(sim: Sim, tmp_path: Path) -> Iterator[ServerThread]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    settings = gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None, max_body_bytes=1024 * 1024)
    with serve(create_app(settings)) as server:
        yield server


def _client(server: ServerThread, *, org: str = "acme", roles: tuple[str, ...] = (),
            scopes: tuple[str, ...] = ("models:invoke",)) -> httpx.Client:
    token = mint_token(JWT_SECRET, org=org, subject="alice", roles=list(roles), scopes=list(scopes))
    return httpx.Client(base_url=f"{server.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30)


def _chat(model: str, content: str = "Hi", **extra: object) -> dict[str, object]:
    return {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": content}], **extra}


def _upstream_chats(sim: Sim) -> list[dict]:
    return [record for record in sim.requests(1000) if record["path"].endswith("/chat/completions")]


def _model_calls(sim: Sim) -> int:
    """Upstream model calls (the catalogue fetches to /models are not)."""
    return sum(sim.stats()["requests_by_model"].values())


def _refusal(answer: httpx.Response) -> str:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["type"] == "permission_error" and error["code"] == "access_denied"
    return str(error["message"])


def test_callers_without_the_required_scope_role_or_org_are_refused_before_anything_is_sent(
    gateway: ServerThread, sim: Sim
) -> None:
    with _client(gateway, scopes=()) as unscoped:
        assert "missing scope 'models:invoke'" in _refusal(unscoped.post("/chat/completions", json=_chat(SOLO)))
        assert "missing scope 'models:invoke'" in _refusal(unscoped.post("/responses", json={"model": SOLO,
                                                                                            "input": "Hi"}))
        embedding = {"model": "openai/text-embedding-3-small", "input": "Hi"}
        assert "missing scope 'models:invoke'" in _refusal(unscoped.post("/embeddings", json=embedding))
    with _client(gateway, org="initech") as outsider:
        assert "organization 'initech'" in _refusal(outsider.post("/chat/completions", json=_chat(SOLO)))
    with _client(gateway) as scoped:
        message = _refusal(scoped.post("/chat/completions", json=_chat("planner")))
        assert message == "Access to task 'planner' denied: missing role 'planner'."
    assert _upstream_chats(sim) == [] and _model_calls(sim) == 0

    with _client(gateway) as scoped:
        assert scoped.post("/chat/completions", json=_chat(SOLO)).status_code == 200
    with _client(gateway, org="globex-eu", roles=("planner",)) as planner:
        assert planner.post("/chat/completions", json=_chat("planner")).status_code == 200
    assert [record["body"]["model"] for record in _upstream_chats(sim)] == [SOLO, SOLO]


def test_a_tasks_access_rules_hold_where_an_org_overrides_the_task(gateway: ServerThread, sim: Sim) -> None:
    with _client(gateway, org="globex-us") as without_role:
        message = _refusal(without_role.post("/chat/completions", json=_chat("planner")))
    assert message == "Access to task 'planner' denied: missing role 'planner'."
    assert _model_calls(sim) == 0
    with _client(gateway, org="globex-us", roles=("planner",)) as planner:
        answer = planner.post("/chat/completions", json=_chat("planner"))
    assert answer.status_code == 200, answer.text
    assert [record["body"]["model"] for record in _upstream_chats(sim)] == [OTHER]


def test_the_openai_sdk_sees_a_refusal_as_permission_denied(gateway: ServerThread, sim: Sim) -> None:
    token = mint_token(JWT_SECRET, org="acme", subject="alice", scopes=["other:scope"])
    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=token, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk.chat.completions.create(model=SOLO, messages=[{"role": "user", "content": "Hi"}])
    assert "missing scope 'models:invoke'" in caught.value.message
    assert _model_calls(sim) == 0


def test_a_prompt_far_over_the_context_is_refused_without_an_upstream_call(gateway: ServerThread, sim: Sim) -> None:
    prompt = "word " * 40_000  # 50,000 counted tokens: over 32,768 × 1.1 + 1,000
    with _client(gateway) as client:
        direct = client.post("/chat/completions", json=_chat(SMALL_CONTEXT, prompt))
        through_task = client.post("/chat/completions", json=_chat("tight", prompt))
    for answer in (direct, through_task):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == "context_length_exceeded"
        assert error["param"] == "messages"
        assert error["message"].startswith(f"This model's maximum context length is {SMALL_CONTEXT_LENGTH} tokens.")
    assert _model_calls(sim) == 0


def test_a_fallback_with_a_larger_context_lets_the_prompt_go(gateway: ServerThread, sim: Sim) -> None:
    """The context is the largest among the models that may answer: a prompt too long for the task's primary but
    not for its fallback is not refused by the gateway; the primary refuses it upstream, and the fallback serves it."""
    with _client(gateway) as client:
        answer = client.post("/chat/completions", json=_chat("roomy", "word " * 40_000))
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-gateway-model-served"] == SOLO
    assert sim.stats()["requests_by_model"] == {SMALL_CONTEXT: 1, SOLO: 1}


def test_prompt_plus_max_tokens_over_the_context_is_clamped_to_what_is_left(gateway: ServerThread, sim: Sim) -> None:
    prompt = "a" * 80_000  # 20,000 counted tokens (4 characters each)
    with _client(gateway) as client:
        clamped = client.post("/chat/completions", json={**_chat(SMALL_CONTEXT, prompt), "max_tokens": 20_000})
        fits = client.post("/chat/completions", json={**_chat(SMALL_CONTEXT, prompt), "max_tokens": 5_000})
    assert clamped.status_code == 200 and fits.status_code == 200, (clamped.text, fits.text)
    sent = [record["body"]["max_tokens"] for record in _upstream_chats(sim)]
    assert sent == [SMALL_CONTEXT_LENGTH - 20_000, 5_000]


def test_the_responses_api_gets_the_same_context_check(gateway: ServerThread, sim: Sim) -> None:
    with _client(gateway) as client:
        refused = client.post("/responses", json={"model": SMALL_CONTEXT, "input": "word " * 40_000})
        clamped = client.post("/responses", json={"model": "tight", "input": "a" * 80_000, "max_output_tokens": 20_000})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "context_length_exceeded"
    assert clamped.status_code == 200, clamped.text
    [sent] = [record["body"] for record in sim.requests() if record["path"].endswith("/responses")]
    assert sent["max_output_tokens"] == SMALL_CONTEXT_LENGTH - 20_000


def test_a_model_added_upstream_is_served_at_once_and_a_junk_id_is_404(gateway: ServerThread, sim: Sim) -> None:
    added = "openai/gpt-4o-mini-added-today"
    with _client(gateway) as client:
        assert client.post("/chat/completions", json=_chat(SOLO)).status_code == 200  # the catalogue is loaded
        sim.control.post("/_sim/models", json={"id": added, "like": SOLO}).raise_for_status()
        served = client.post("/chat/completions", json=_chat(added))
        responses = client.post("/responses", json={"model": added, "input": "Hi"})
        junk = client.post("/chat/completions", json=_chat("nobody/no-such-model-xyz"))
        listed = client.get(f"/models/{added}")
    assert served.status_code == 200, served.text
    assert served.headers["x-gateway-model-routed"] == added
    assert responses.status_code == 200, responses.text
    assert _upstream_chats(sim)[-1]["body"]["model"] == added
    assert listed.status_code == 200 and listed.json()["id"] == added
    assert junk.status_code == 404 and junk.json()["error"]["code"] == "model_not_found"
    assert [record["body"]["model"] for record in _upstream_chats(sim)] == [SOLO, added]


def test_assistant_image_parts_without_a_type_pass_through_unchanged(gateway: ServerThread, sim: Sim) -> None:
    messages = [
        {"role": "user", "content": "Draw a cat"},
        {"role": "assistant", "content": [{"image_url": {"url": "https://example.com/cat.png"}},
                                          {"type": "text", "text": "Here is a cat."}]},
        {"role": "user", "content": "Now a dog"},
    ]
    with _client(gateway) as client:
        answer = client.post("/chat/completions", json={"model": SOLO, "max_tokens": 16, "messages": messages})
    assert answer.status_code == 200, answer.text
    [sent] = _upstream_chats(sim)
    assert sent["body"]["messages"] == messages
