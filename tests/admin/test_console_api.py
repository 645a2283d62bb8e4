"""The admin API the console uses, on a real gateway (Redis, simulator, calls made through it): who am I, the
overview, calls paged and filtered newest first, one call's record, exports, and the console's own files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from gateway.admin.ui_files import CONTENT_SECURITY_POLICY
from gateway.sim.app import create_sim_app
from tests.admin.console_setup import Gateway, admin_token, console_gateway, user_token
from tests.servers import ServerThread, serve


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def gateway(sim_server: ServerThread, clean_redis: str, tmp_path: Path) -> Iterator[Gateway]:
    with console_gateway(sim_server.url, clean_redis, tmp_path) as running:
        yield running


@pytest.fixture
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {admin_token()}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=30) as client:
        yield client


def test_me_says_who_signed_in_and_refuses_the_rest(gateway: Gateway, admin: httpx.Client) -> None:
    assert admin.get("/admin/me").json() == {"org": "acme", "subject": "ops@acme", "roles": ["admin"]}
    with httpx.Client(base_url=gateway.url, timeout=10) as anonymous:
        assert anonymous.get("/admin/me").status_code == 401
        wrong = anonymous.get("/admin/me", headers={"authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"
        user = anonymous.get("/admin/me", headers={"authorization": f"Bearer {user_token()}"})
        assert user.status_code == 403 and user.json()["error"]["type"] == "permission_error"


def test_console_routes_serve_only_the_callers_own_org(gateway: Gateway) -> None:
    headers = {"authorization": f"Bearer {admin_token('other')}"}
    with httpx.Client(base_url=gateway.url, headers=headers, timeout=10) as client:
        for path in ("overview", "calls", "calls/export", "calls/summary", "calls/some-id"):
            answer = client.get(f"/admin/orgs/acme/{path}")
            assert answer.status_code == 403, path
            assert "cannot access organization 'acme'" in answer.json()["error"]["message"]


def test_overview_counts_todays_calls_errors_and_spend(gateway: Gateway, admin: httpx.Client) -> None:
    spent = sum(gateway.chat(tags="run_id=a") for _ in range(3))
    gateway.fail_next_call(503)
    with pytest.raises(openai.APIStatusError):
        gateway.chat()
    admin.put("/admin/orgs/acme/budget", json={"daily_usd": 0}).raise_for_status()
    with pytest.raises(openai.RateLimitError, match="budget"):
        gateway.chat()  # refused before any upstream call: no ledger record, so not in today's counts
    view = admin.get("/admin/orgs/acme/overview").json()
    assert view["org"] == "acme"
    assert view["today"] == {"requests": 4, "errors": 1, "cost_usd": pytest.approx(spent), "complete": True}
    assert view["budget"]["daily_usd"]["spent_usd"] == pytest.approx(spent)
    assert view["budget"]["daily_usd"]["effective"] == 0
    assert view["limits"]["rpm"]["default"] == 1000
    assert len(view["by_day"]) == 30 and view["by_day"][-1] == {"day": view["day"], "usd": pytest.approx(spent)}
    assert view["by_model"] == {"openai/gpt-4o-mini": pytest.approx(spent)}
    # The refused call met a budget already spent (frozen at 0): that is the period's 100 % alert, once.
    assert view["alerts"] == [{"period": "daily", "period_key": view["day"], "threshold": 100}]


def test_overview_lists_the_budget_alerts_sent(gateway: Gateway, admin: httpx.Client) -> None:
    cost = gateway.chat()
    # A daily budget just above one call's cost: the second call crosses 50 and 80 %, a third 100 %.
    admin.put("/admin/orgs/acme/budget", json={"daily_usd": cost * 2.2}).raise_for_status()
    gateway.chat()
    alerts = admin.get("/admin/orgs/acme/overview").json()["alerts"]
    day = admin.get("/admin/orgs/acme/overview").json()["day"]
    assert alerts == [{"period": "daily", "period_key": day, "threshold": 80},
                      {"period": "daily", "period_key": day, "threshold": 50}]


def test_calls_page_newest_first_with_a_cursor(gateway: Gateway, admin: httpx.Client) -> None:
    for index in range(7):
        gateway.chat(tags=f"n={index}")
    seen: list[str] = []
    cursor = None
    for expected in (3, 3, 1):
        page = admin.get("/admin/orgs/acme/calls", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        body = page.json()
        assert page.headers["cache-control"] == "no-store"
        assert len(body["data"]) == expected
        seen += [row["tags"]["n"] for row in body["data"]]
        cursor = body["next_cursor"]
        assert body["has_more"] is (cursor is not None)
    assert seen == [str(index) for index in range(6, -1, -1)]
    assert cursor is None
    row = admin.get("/admin/orgs/acme/calls", params={"limit": 1}).json()["data"][0]
    assert "prompt" not in row and row["model_served"] == "openai/gpt-4o-mini" and row["status"] == 200


def test_calls_filter_by_tag_status_model_and_time(gateway: Gateway, admin: httpx.Client) -> None:
    spent_on_a = 0.0
    for run in ("a", "b", "a"):
        cost = gateway.chat(tags=f"run_id={run}")
        spent_on_a += cost if run == "a" else 0.0
    gateway.chat(tags="run_id=c", model="openai/gpt-4o")
    gateway.fail_next_call(400)
    with pytest.raises(openai.BadRequestError):
        gateway.chat(tags="run_id=a")

    def rows(**params: str) -> list[dict]:
        answer = admin.get("/admin/orgs/acme/calls", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    assert [row["tags"]["run_id"] for row in rows(tag="run_id=a")] == ["a", "a", "a"]
    assert len(rows(tag="run_id:a", status="ok")) == 2
    assert [row["status"] for row in rows(status="error")] == [400]
    assert [row["status"] for row in rows(status="400")] == [400]
    assert rows(status="429") == []
    assert len(rows(tag="run_id")) == 5
    assert [row["tags"]["run_id"] for row in rows(model="openai/gpt-4o")] == ["c"]
    summary = admin.get("/admin/orgs/acme/calls/summary", params={"tag": "run_id=a"}).json()
    assert summary == {"calls": 3, "errors": 1, "cost_usd": pytest.approx(spent_on_a), "prompt_tokens": 16,
                       "completion_tokens": 32, "complete": True}
    newest = rows(limit="1")[0]["timestamp"]
    assert rows(since="2000-01-01", until="2000-01-02") == []
    assert len(rows(since="2000-01-01T00:00:00Z")) == 5
    assert len(rows(until=newest)) == 4  # `until` is exclusive


@pytest.mark.parametrize(("params", "param"), [
    ({"status": "bad"}, "status"), ({"since": "yesterday"}, "since"), ({"limit": "0"}, "limit"),
    ({"limit": "501"}, "limit"), ({"cursor": "not-a-position"}, "cursor"), ({"cursor": "1-2-3"}, "cursor"),
    ({"since": "2025-02-01", "until": "2025-01-01"}, "until"),
])
def test_calls_refuse_bad_filters(admin: httpx.Client, params: dict[str, str], param: str) -> None:
    answer = admin.get("/admin/orgs/acme/calls", params=params)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_one_calls_full_record(gateway: Gateway, admin: httpx.Client) -> None:
    gateway.chat(tags="run_id=x")
    row = admin.get("/admin/orgs/acme/calls").json()["data"][0]
    record = admin.get(f"/admin/orgs/acme/calls/{row['request_id']}").json()
    assert record["request_id"] == row["request_id"] and record["org"] == "acme"
    assert record["prompt_sha256"] and record["generation_id"] and record["tags"] == {"run_id": "x"}
    missing = admin.get("/admin/orgs/acme/calls/no-such-call")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_export_the_filtered_calls_as_csv_and_jsonl(gateway: Gateway, admin: httpx.Client) -> None:
    for run in ("a", "b", "a"):
        gateway.chat(tags=f"run_id={run}")
    exported = admin.get("/admin/orgs/acme/calls/export", params={"format": "csv", "tag": "run_id=a"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert 'filename="calls-acme-' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [orjson.loads(row["tags"]) for row in rows] == [{"run_id": "a"}, {"run_id": "a"}]
    assert all(row["org"] == "acme" and float(row["cost_usd"]) > 0 for row in rows)
    lines = admin.get("/admin/orgs/acme/calls/export", params={"format": "jsonl"}).text.splitlines()
    assert [orjson.loads(line)["tags"]["run_id"] for line in lines] == ["a", "b", "a"]
    assert admin.get("/admin/orgs/acme/calls/export", params={"format": "xml"}).status_code == 400


def test_console_files_are_served_locked_down(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for path in ("/admin/ui", "/admin/ui/", "/admin/ui/app.js", "/admin/ui/console.css",
                     "/admin/ui/views/calls.js"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["x-content-type-options"] == "nosniff"
        index = client.get("/admin/ui").text
        assert answer.headers["content-type"].startswith("text/javascript")
        assert "<script type=\"module\" src=\"/admin/ui/app.js\">" in index and "style=" not in index
        assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
        assert client.get("/admin/ui/nothing.js").status_code == 404
        assert client.get("/admin/ui/../routes.py").status_code == 404
        assert client.get("/admin/ui/%2e%2e/routes.py").status_code == 404


def test_without_redis_the_console_reads_the_in_process_ledger(sim_server: ServerThread, tmp_path: Path) -> None:
    with console_gateway(sim_server.url, None, tmp_path) as gateway, \
            httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {admin_token()}"}) as admin:
        spent = gateway.chat(tags="run_id=a") + gateway.chat(tags="run_id=b")
        view = admin.get("/admin/orgs/acme/overview").json()
        assert view["today"]["requests"] == 2 and view["alerts"] == []
        assert view["budget"]["daily_usd"]["spent_usd"] == pytest.approx(spent)
        first = admin.get("/admin/orgs/acme/calls", params={"limit": 1}).json()
        assert first["data"][0]["tags"] == {"run_id": "b"} and first["has_more"]
        second = admin.get("/admin/orgs/acme/calls", params={"limit": 1, "cursor": first["next_cursor"]}).json()
        assert second["data"][0]["tags"] == {"run_id": "a"} and not second["has_more"]
        lines = admin.get("/admin/orgs/acme/calls/export", params={"format": "jsonl", "tag": "run_id=a"}).text
        assert [orjson.loads(line)["tags"] for line in lines.splitlines()] == [{"run_id": "a"}]
