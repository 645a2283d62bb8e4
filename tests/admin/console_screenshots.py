"""Take the README's screenshots of the admin console (1280x800, plus one phone-sized) from a demo run.

    REDIS_URL=redis://127.0.0.1:6379 python -m tests.admin.console_screenshots docs/

Real calls go through a real gateway to the simulator; only the 29 days before today are back-filled into the
per-day spend hash (the way `tests/admin/conftest.record_spend` does), so the 30-day chart has something to show.
It flushes the tests' Redis db (GATEWAY_TEST_REDIS_DB, 15 by default) first, never any other.
"""

from __future__ import annotations

import contextlib
import random
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import httpx
import openai
import redis

from gateway.limits.keys import OrgKeys
from gateway.limits.types import to_nano
from gateway.sim.app import create_sim_app
from tests.admin.browser import chromium, console_page
from tests.admin.console_setup import Gateway, admin_token, console_gateway
from tests.redis_server import locate_or_start
from tests.servers import serve

MODELS = ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-flash", "openai/gpt-4o")


def demo_calls(gateway: Gateway) -> float:
    spent = 0.0
    for index in range(24):
        run = f"exp-{index % 3 + 1}"
        spent += gateway.chat(tags=f"run_id={run},team=search", model=MODELS[index % len(MODELS)])
    for status in (503, 400):
        gateway.fail_next_call(status)
        with contextlib.suppress(openai.APIStatusError):
            gateway.chat(tags="run_id=exp-3", model="openai/gpt-4o")
    return spent


def backfill(redis_url: str, today: str, typical: float) -> None:
    client = redis.Redis.from_url(redis_url)
    randomness = random.Random(17)
    try:
        for back in range(1, 30):
            day = (date.fromisoformat(today) - timedelta(days=back)).isoformat()
            weekday = date.fromisoformat(day).weekday() < 5
            usd = typical * randomness.uniform(0.6, 1.3) * (1.0 if weekday else 0.25)
            client.hset(OrgKeys("acme").spend_by_day, day, str(to_nano(usd)))
    finally:
        client.close()


def main(target: Path) -> None:
    redis_url, started = locate_or_start()
    redis.Redis.from_url(redis_url).flushdb()
    headers = {"authorization": f"Bearer {admin_token()}"}
    try:
        with serve(create_sim_app()) as sim, tempfile.TemporaryDirectory() as scratch, \
                console_gateway(sim.url, redis_url, Path(scratch)) as gateway, chromium() as browser:
            spent = demo_calls(gateway)
            # Budgets tightened so that the next calls cross thresholds and the overview has alerts to show.
            httpx.put(f"{gateway.url}/admin/orgs/acme/budget", headers=headers,
                      json={"daily_usd": round(spent * 1.45, 6), "monthly_usd": round(spent * 1.2, 6)})
            for _ in range(3):
                gateway.chat(tags="run_id=exp-1,team=search", model="openai/gpt-4o")
            today = httpx.get(f"{gateway.url}/admin/orgs/acme/overview", headers=headers).json()["day"]
            backfill(redis_url, today, spent)
            with console_page(browser, gateway.url) as console:
                page = console.page
                page.screenshot(path=target / "console-sign-in.png")
                console.sign_in(admin_token())
                page.wait_for_selector("[data-tile=today]")
                page.screenshot(path=target / "console-overview.png")
                page.click("#nav >> text=Spend & limits")
                page.wait_for_selector("#budget-form")
                page.screenshot(path=target / "console-spend.png")
                page.click("#nav >> text=Calls")
                page.wait_for_selector("#calls-table tbody tr")
                page.screenshot(path=target / "console-calls.png")
                page.click("#calls-table tbody a >> nth=0")
                page.wait_for_selector("dd[data-field=request_id]")
                page.screenshot(path=target / "console-call.png")
                page.set_viewport_size({"width": 390, "height": 844})
                page.click("#nav >> text=Overview")
                page.wait_for_selector("[data-tile=today]")
                page.screenshot(path=target / "console-phone.png")
                assert console.problems == [], console.problems
    finally:
        if started is not None:
            started.terminate()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
