"""The admin console in a real browser against a real gateway: sign in, see the spend real calls made, tighten a
budget and see the next call refused, filter calls by tag and download the CSV, create and revoke an API key."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest
from playwright.sync_api import Browser, expect

from gateway.auth.tokens import mint_token
from gateway.sim.app import create_sim_app
from tests.admin.browser import ConsolePage, chromium, console_page
from tests.admin.console_setup import Gateway, admin_token, console_gateway, user_token
from tests.e2e.conftest import JWT_SECRET
from tests.servers import ServerThread, serve


def usd(value: float) -> str:
    """The console's money format: cents from a dollar up, 4 decimals below, 6 below a cent."""
    digits = 2 if value == 0 or abs(value) >= 1 else 4 if abs(value) >= 0.01 else 6
    return f"${value:,.{digits}f}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def gateway(sim_server: ServerThread, clean_redis: str, tmp_path: Path) -> Iterator[Gateway]:
    with console_gateway(sim_server.url, clean_redis, tmp_path) as running:
        yield running


@pytest.fixture
def console(browser: Browser, gateway: Gateway) -> Iterator[ConsolePage]:
    with console_page(browser, gateway.url) as opened:
        yield opened
    assert opened.problems == []  # no CSP violation, no uncaught error


def test_a_wrong_or_non_admin_token_is_refused(console: ConsolePage) -> None:
    page = console.page
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#nav")).to_be_hidden()
    console.sign_in("not-a-token")
    expect(page.locator("#sign-in .notice.error")).to_contain_text("The token was refused")
    console.sign_in(user_token())
    expect(page.locator("#sign-in .notice.error")).to_contain_text("lacks the admin role")
    assert page.evaluate("window.sessionStorage.length") == 0  # a refused token is not kept
    expect(page.locator("#nav")).to_be_hidden()


def test_an_expired_token_brings_back_the_sign_in(console: ConsolePage) -> None:
    page = console.page
    console.sign_in(mint_token(JWT_SECRET, org="acme", subject="ops@acme", roles=["admin"], ttl_s=2))
    expect(page.locator("[data-tile=today]")).to_be_visible()
    time.sleep(3)
    page.click("#nav >> text=Calls")
    expect(page.locator("#sign-in .notice.error")).to_contain_text("expired")
    assert page.evaluate("window.sessionStorage.length") == 0
    expect(page.locator("#nav")).to_be_hidden()


def test_console_shows_spend_tightens_a_budget_and_exports_calls(
    console: ConsolePage, gateway: Gateway, tmp_path: Path
) -> None:
    page = console.page
    spent = sum(gateway.chat(tags=f"run_id={run}") for run in ("exp-1", "exp-2", "exp-1", "exp-2", "exp-2"))
    token = admin_token()
    page.focus("#token")  # keyboard only: type the token, Tab to the button, Enter
    page.keyboard.type(token)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    expect(page.locator("[data-tile=today] .tile-value")).to_have_text(usd(spent))
    expect(page.locator("[data-tile=requests] .tile-value")).to_have_text("5")
    expect(page.locator("[data-tile=errors] .tile-value")).to_have_text("0")
    expect(page.locator("#who")).to_have_text("ops@acme · acme")
    # The token lives in this tab's sessionStorage only: not in the URL, not in a cookie.
    assert page.evaluate("window.sessionStorage.getItem('gateway.adminToken')") == token
    assert token not in page.url and page.context.cookies() == []

    page.click("#nav >> text=Spend & limits")
    page.fill("#tag-query", "run_id:exp-1")
    page.press("#tag-query", "Enter")
    expect(page.locator(".tag-total")).to_contain_text(f"{usd(spent * 2 / 5)} in 2 calls")
    page.fill("#field-daily_usd", "50")  # the policy grants 5: admins may tighten, not exceed
    page.click("#budget-form button[type=submit]")
    expect(page.locator("#budget-form .notice.error")).to_contain_text("may not exceed the policy's 5")
    page.fill("#field-daily_usd", f"{spent / 2:.10f}")
    page.click("#budget-form button[type=submit]")
    expect(page.locator("main > .notice.ok")).to_have_text("Budgets saved.")
    expect(page.locator("#hint-daily_usd")).to_contain_text(f"Effective now: {usd(spent / 2)}")

    with pytest.raises(openai.RateLimitError) as refused:
        gateway.chat()
    assert refused.value.code == "budget_exceeded"
    page.click("#nav >> text=Overview")
    expect(page.locator(".budget-caption").first).to_contain_text("(200.0 %)")

    page.click("#nav >> text=Calls")
    expect(page.locator("#calls-table tbody tr")).to_have_count(5)
    page.fill("#filter-tag", "run_id=exp-2")
    page.click(".filters button[type=submit]")
    expect(page.locator("#calls-table tbody tr")).to_have_count(3)
    expect(page.locator("#calls-summary")).to_contain_text(f"3 calls · {usd(spent * 3 / 5)}")
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("calls-acme-") and saved.suffix == ".csv"
    with saved.open() as exported:
        rows = list(csv.DictReader(exported))
    assert [orjson.loads(row["tags"]) for row in rows] == [{"run_id": "exp-2"}] * 3
    assert sum(float(row["cost_usd"]) for row in rows) == pytest.approx(spent * 3 / 5)

    page.click("#calls-table tbody a >> nth=0")
    expect(page.locator("dd[data-field=request_id]")).to_have_text(rows[0]["request_id"])
    expect(page.locator("dd[data-field=model_served]")).to_have_text("openai/gpt-4o-mini")

    page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("window.sessionStorage.length") == 0


def test_console_creates_and_revokes_an_api_key(console: ConsolePage, gateway: Gateway) -> None:
    """Needs the API keys routes (`/admin/orgs/{org}/keys`); without them the keys view says keys are off."""
    page = console.page
    console.sign_in(admin_token())
    page.click("#nav >> text=Keys")
    page.fill("#key-name", "ci-runner")
    page.click("#key-form button[type=submit]")
    key = page.input_value("#new-key")
    assert key.startswith("gwk-")
    row = page.locator("#keys-table tbody tr", has_text="ci-runner")
    expect(row).to_have_count(1)
    assert key not in row.inner_text()  # the list shows the prefix only
    assert gateway.chat(token=key) > 0

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button.danger").click()
    expect(row).to_contain_text("revoked")
    deadline = time.monotonic() + 2.0  # revocation holds on every replica within a second (key lookups are cached 1 s)
    with pytest.raises(openai.AuthenticationError):
        while time.monotonic() < deadline:
            gateway.chat(token=key)
            time.sleep(0.1)
