"""Chromium (Debian's, at /usr/bin/chromium) driven by Playwright, JavaScript off; axe-core
(npm, ``node_modules/axe-core``) for the accessibility checks."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.api.live import live_dsn, live_url

__all__ = ["axe_source", "browser_page", "chromium", "live_dsn", "live_url"]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


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


@pytest.fixture(scope="session")
def axe_source() -> str:
    """axe-core's script (package.json pins it): skipped without it, failed under CI=true."""
    if not AXE.exists():
        missing = f"axe-core is not installed at {AXE} (run `npm ci` at the repo root)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {missing}")
        pytest.skip(missing)
    return AXE.read_text()


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """One Chromium for the session: each test opens its own context (a new reader)."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def browser_page(
    browser: Browser,
    base_url: str,
    *,
    width: int = 1280,
    height: int = 900,
    java_script_enabled: bool = False,
) -> AsyncIterator[Page]:
    """A fresh browser context (a new anonymous reader), ``width`` CSS pixels wide, with
    JavaScript disabled unless asked for (the pages ship none; axe-core needs it)."""
    context = await browser.new_context(
        base_url=base_url,
        java_script_enabled=java_script_enabled,
        viewport={"width": width, "height": height},
    )
    try:
        context.set_default_timeout(10_000)
        yield await context.new_page()
    finally:
        await context.close()
