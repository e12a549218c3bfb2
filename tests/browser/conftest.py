"""Chromium (Debian's, at /usr/bin/chromium) driven by Playwright, JavaScript off."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright

from tests.api.live import live_dsn, live_url

__all__ = ["browser_page", "live_dsn", "live_url"]

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    reason = f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    for item in items:
        if item.get_closest_marker("browser"):
            if os.environ.get("CI") == "true":
                item.add_marker(pytest.mark.usefixtures("_fail_without_chromium"))
            else:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def _fail_without_chromium() -> None:
    pytest.fail(f"CI=true but {CHROMIUM} is missing: install it (apt-get install chromium)")


@contextlib.asynccontextmanager
async def browser_page(base_url: str) -> AsyncIterator[Page]:
    """A fresh browser context (a new anonymous reader) with JavaScript disabled."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = await browser.new_context(
                base_url=base_url,
                java_script_enabled=False,
                viewport={"width": 1280, "height": 900},
            )
            context.set_default_timeout(10_000)
            yield await context.new_page()
        finally:
            await browser.close()
