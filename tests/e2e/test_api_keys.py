"""API keys end to end: made by the CLI, used by the `openai` SDK, limited and revoked across two replicas."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.e2e.keys_support import Replicas, flushed, start_replicas
from tests.servers import serve

POLICY = "orgs:\n  acme: {rpm: 1000, daily_budget_usd: 50}\n  other: {rpm: 1000}\n"


@pytest.fixture
def replicas(sim: Sim, redis_url: str, tmp_path: Path) -> Iterator[Replicas]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    yield from start_replicas(sim.base_url, flushed(redis_url), policy)


def jwt(org: str = "acme", roles: tuple[str, ...] = ()) -> str:
    return mint_token(JWT_SECRET, org=org, subject="alice", roles=list(roles))


def test_a_cli_key_works_with_the_openai_sdk_on_both_replicas(replicas: Replicas, sim: Sim) -> None:
    created = replicas.create_key("--org", "acme", "--name", "ci-runner", "--sub", "runner")
    key = created["key"]
    assert key.startswith("gwk-") and len(key) > 40 and created["prefix"] == key[:12]
    for index in range(2):
        client = openai.OpenAI(base_url=replicas.url(index), api_key=key, max_retries=0)
        reply = client.chat.completions.create(model="openai/gpt-4o-mini",
                                               messages=[{"role": "user", "content": "Hello"}])
        assert reply.choices[0].message.content
    # The key never goes upstream: OpenRouter sees the gateway's own key only.
    assert all(key not in str(request) for request in sim.requests())
    listed = replicas.keys("list", "--org", "acme", "--json")
    [view] = json.loads(listed.stdout)["data"]
    assert (view["name"], view["subject"], view["revoked"]) == ("ci-runner", "runner", False)
    assert view["spent_usd"] > 0 and view["last_used_at"] is not None
    assert "key" not in view and key not in listed.stdout


def test_a_keys_rpm_holds_across_replicas_and_spares_the_org(replicas: Replicas) -> None:
    key = replicas.create_key("--org", "acme", "--rpm", "4")["key"]
    statuses = [replicas.chat(index, key).status_code for index in range(4)]
    assert statuses == [200, 200, 200, 200]
    refused = replicas.chat(4, key)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert "API key" in refused.json()["error"]["message"] and int(refused.headers["retry-after"]) >= 1
    assert replicas.chat(5, key).status_code == 429
    # The org's other callers are not held by the key's limit.
    assert replicas.chat(0, jwt()).status_code == 200


def test_a_keys_budget_refuses_once_its_own_spend_would_pass_it(replicas: Replicas) -> None:
    key = replicas.create_key("--org", "acme", "--daily-usd", "0.0002")["key"]
    costs: list[float] = []
    refused = None
    for index in range(40):
        answer = replicas.chat(index, key)
        if answer.status_code != 200:
            refused = answer
            break
        costs.append(float(answer.headers["x-gateway-cost-usd"]))
    assert refused is not None and costs, "the key's budget never refused"
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert "API key's daily budget" in error["message"] and refused.headers["x-should-retry"] == "false"
    key_id = json.loads(replicas.keys("list", "--org", "acme", "--json").stdout)["data"][0]["id"]
    view = json.loads(replicas.keys("show", "--org", "acme", "--json", key_id).stdout)
    assert view["spent_usd"] == pytest.approx(sum(costs), abs=1e-9) and view["spent_usd"] <= 0.0002
    assert view["reserved_usd"] == 0.0
    assert replicas.chat(0, jwt()).status_code == 200  # the org's budget has room: JWT callers go on


def test_revocation_holds_on_every_replica_within_a_second(replicas: Replicas) -> None:
    created = replicas.create_key("--org", "acme")
    key = created["key"]
    assert [replicas.chat(index, key).status_code for index in range(2)] == [200, 200]
    done = replicas.keys("revoke", "--org", "acme", created["id"])
    assert done.returncode == 0, done.stderr
    time.sleep(1.1)
    for index in range(2):
        answer = replicas.chat(index, key)
        assert answer.status_code == 401
        error = answer.json()["error"]
        assert error["code"] == "invalid_api_key" and "revoked" in error["message"]
        assert key not in answer.text and "www-authenticate" in answer.headers


def test_a_wrong_key_is_a_401_that_does_not_echo_it(replicas: Replicas) -> None:
    wrong = "gwk-" + "x" * 43
    answer = replicas.chat(0, wrong)
    assert answer.status_code == 401 and "no such key" in answer.json()["error"]["message"]
    assert wrong not in answer.text and "x" * 20 not in answer.text


def test_an_expired_key_is_refused_as_expired(replicas: Replicas) -> None:
    expires = int(time.time()) + 6  # room for the CLI process to start on a busy machine
    created = replicas.create_key("--org", "acme", "--expires", time.strftime("%Y-%m-%dT%H:%M:%S",
                                                                             time.gmtime(expires)))
    assert replicas.chat(0, created["key"]).status_code == 200
    time.sleep(max(0.0, expires - time.time()) + 1.2)
    answer = replicas.chat(1, created["key"])
    assert answer.status_code == 401 and "expired" in answer.json()["error"]["message"]


def test_admins_manage_their_own_orgs_keys_over_http(replicas: Replicas) -> None:
    admin = {"authorization": f"Bearer {jwt(roles=('admin',))}"}
    base = replicas.servers[0].url
    made = httpx.post(f"{base}/admin/orgs/acme/keys", headers=admin, timeout=10,
                      json={"name": "svc", "roles": ["user"], "rpm": 100, "monthly_usd": 5, "expires_at": "2999-01-01"})
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["key"].startswith("gwk-") and body["org"] == "acme" and body["rpm"] == 100
    assert body["expires_at"] == "2999-01-01T23:59:59Z"
    # Made on one replica, usable on the other.
    assert replicas.chat(1, body["key"]).status_code == 200
    listing = httpx.get(f"{replicas.servers[1].url}/admin/orgs/acme/keys", headers=admin, timeout=10).json()
    [view] = listing["data"]
    expected = {"id", "prefix", "name", "org", "subject", "roles", "rpm", "tpm", "daily_usd", "monthly_usd",
                "expires_at", "created_at", "last_used_at", "revoked", "spent_usd"}
    assert expected <= set(view) and "key" not in view and body["key"] not in str(listing)
    assert view["id"] == body["id"] and view["roles"] == ["user"] and view["monthly_usd"] == 5.0
    # Another org's admin can neither list nor revoke it; a non-admin cannot manage keys at all.
    other = {"authorization": f"Bearer {jwt('other', ('admin',))}"}
    assert httpx.get(f"{base}/admin/orgs/acme/keys", headers=other, timeout=10).status_code == 403
    assert httpx.delete(f"{base}/admin/orgs/acme/keys/{body['id']}", headers=other, timeout=10).status_code == 403
    user = {"authorization": f"Bearer {jwt()}"}
    assert httpx.post(f"{base}/admin/orgs/acme/keys", headers=user, json={}, timeout=10).status_code == 403
    bad = httpx.post(f"{base}/admin/orgs/acme/keys", headers=admin, json={"rpm": 0}, timeout=10)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rpm"
    assert httpx.post(f"{base}/admin/orgs/acme/keys", headers=admin, json={"rmp": 5}, timeout=10).status_code == 400
    gone = httpx.delete(f"{base}/admin/orgs/acme/keys/{body['id']}", headers=admin, timeout=10)
    assert gone.status_code == 200 and gone.json()["id"] == body["id"] and gone.json()["revoked"] is True
    assert httpx.delete(f"{base}/admin/orgs/acme/keys/key_nope", headers=admin, timeout=10).status_code == 404
    time.sleep(1.1)
    assert replicas.chat(0, body["key"]).status_code == 401


def test_without_redis_keys_live_in_process_and_work_the_same(sim: Sim, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    admin = {"authorization": f"Bearer {jwt(roles=('admin',))}"}
    with serve(create_app(gateway_settings(sim.base_url, policy_file=str(policy), redis_url=None))) as server:
        made = httpx.post(f"{server.url}/admin/orgs/acme/keys", headers=admin, json={"name": "local", "rpm": 2},
                          timeout=10)
        assert made.status_code == 201, made.text
        key = made.json()["key"]
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)
        ask = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        assert client.chat.completions.create(**ask).choices[0].message.content  # type: ignore[arg-type]
        assert client.chat.completions.create(**ask).choices[0].message.content  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError, match="API key"):
            client.chat.completions.create(**ask)  # type: ignore[arg-type]
        listed = httpx.get(f"{server.url}/admin/orgs/acme/keys", headers=admin, timeout=10).json()["data"]
        assert listed[0]["spent_usd"] > 0
        httpx.delete(f"{server.url}/admin/orgs/acme/keys/{made.json()['id']}", headers=admin, timeout=10)
        time.sleep(1.1)
        with pytest.raises(openai.AuthenticationError, match="revoked"):
            client.chat.completions.create(**ask)  # type: ignore[arg-type]
