"""Headless Chromium from the distribution's packages (`apt-get install chromium`), driven by Playwright.

Playwright's own browser download is never used (`playwright install` needs the internet); `scripts/test.sh`
installs Debian's chromium when it is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class ConsolePage:
    """A fresh browser context (its own sessionStorage) and page, recording what the page complained about."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        # A refused API call (401/403/404) is logged by Chromium as a failed resource; that is the console working.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.problems.append(message.text)

    def sign_in(self, token: str) -> None:
        self.page.fill("#token", token)
        self.page.click("#sign-in button[type=submit]")


@contextmanager
def console_page(browser: Browser, url: str) -> Iterator[ConsolePage]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)  # type: ignore[arg-type]
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        console = ConsolePage(page)
        page.on("console", console.record)
        page.on("pageerror", lambda error: console.problems.append(f"uncaught: {error}"))
        page.goto(f"{url}/admin/ui")
        yield console
    finally:
        context.close()
