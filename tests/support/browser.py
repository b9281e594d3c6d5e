"""A real browser for tests: Debian's Chromium, headless, driven by Playwright for Python.

Playwright's wheel brings its driver but no browser, and these machines download none: the
browser is the distribution's `chromium` package (scripts/install.sh installs it for tests),
launched through `executable_path`. A test without it is skipped, saying so.

    with browser_page(tmp_path / "screenshots") as browser:
        browser.page.goto(url)
        browser.screenshot("loaded")
        assert browser.console_errors == []
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import ConsoleMessage, Page

# Debian names the binary `chromium`; other distributions' packages call it chromium-browser.
CHROMIUM_NAMES = ("chromium", "chromium-browser")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
_FAILED_LOAD = "Failed to load resource: the server responded with a status of "


def chromium_path() -> str | None:
    """The system Chromium's path, or None when it is not installed."""
    for name in CHROMIUM_NAMES:
        if found := shutil.which(name):
            return found
    return None


@dataclass
class BrowserPage:
    """One page of a headless Chromium, with what it reported and requested."""

    page: Page
    screenshots: Path
    # Console messages of type error, uncaught exceptions and CSP violations, in order.
    console_errors: list[str] = field(default_factory=list)
    # Chromium's console line for each answer of status 4xx/5xx: the page's own error paths
    # (a 401 it shows) log these without any script error.
    failed_loads: list[str] = field(default_factory=list)
    # Every URL the page asked for (navigations, scripts, fetches).
    requested_urls: list[str] = field(default_factory=list)

    def screenshot(self, name: str) -> Path:
        """Save the whole page as `<screenshots>/<name>.png` and return the path."""
        path = self.screenshots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def set_viewport(self, size: dict[str, int]) -> None:
        """Resize the page's viewport (DESKTOP, PHONE)."""
        self.page.set_viewport_size(size)

    def enter_key(self, key: str) -> None:
        """Type an API key into the playground and save it (the page keeps it in session storage)."""
        self.page.fill("#api-key", key)
        self.page.click("#key-save")

    def decisions(self) -> dict[str, str]:
        """The playground's decisions panel, term by term (Served model, Route reason, ...)."""
        terms = self.page.locator("#decisions dt").all_inner_texts()
        details = self.page.locator("#decisions dd").all_inner_texts()
        return dict(zip(terms, details, strict=True))


@contextmanager
def browser_page(screenshots: Path, viewport: dict[str, int] = DESKTOP) -> Iterator[BrowserPage]:
    """A fresh headless Chromium page (its own profile, so no storage leaks between tests)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the `test` extra")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no system Chromium (Debian package `chromium`; scripts/install.sh test installs it)")
    screenshots.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: tests run as root here, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(viewport=viewport)
            page = context.new_page()
            session = BrowserPage(page, screenshots)
            page.on("console", lambda message: _console(session, message))
            page.on("pageerror", lambda error: session.console_errors.append(f"uncaught: {error}"))
            page.on("request", lambda request: session.requested_urls.append(request.url))
            yield session
        finally:
            browser.close()


def _console(session: BrowserPage, message: ConsoleMessage) -> None:
    if message.type != "error":
        return
    if message.text.startswith(_FAILED_LOAD):
        session.failed_loads.append(message.text)
    else:
        session.console_errors.append(message.text)
