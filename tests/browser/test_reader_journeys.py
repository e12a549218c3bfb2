"""What a reader does, in a real Chromium with JavaScript disabled: vote, change and
withdraw a vote, bookmark, subscribe, confirm and unsubscribe."""

from __future__ import annotations

import re

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from services.core.tokens import Purpose, Tokens
from tests.api.live import LIVE_SECRET

from .conftest import ARTIFACTS, browser_page

pytestmark = pytest.mark.browser

FILES_VS_AZURE = "claude-files-api-vs-azure-ai-foundry-voice-router"
FILES, AZURE = "claude-files-api", "azure-ai-foundry-voice-router"
AZURE_VS_LITE = "azure-ai-foundry-voice-router-vs-gemini-2-5-flash-lite"


async def vote(page: Page, tool: str, button: str) -> None:
    await page.locator(f"#tool-{tool}").get_by_role("button", name=button).click()
    await page.wait_for_load_state()


async def test_vote_change_and_withdraw(live_url: str, chromium: Browser) -> None:
    async with browser_page(chromium, live_url) as page:
        await page.goto(f"/compare/{FILES_VS_AZURE}")
        files, azure = page.locator(f"#tool-{FILES}"), page.locator(f"#tool-{AZURE}")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Claude Files API vs Azure AI Foundry Real-Time Voice API & Model Router"
        )
        await expect(page.locator("table.decision")).to_contain_text("Ship · 4 ship / 0 skip")
        await expect(page.locator("table.decision")).to_contain_text("No community votes yet")

        await vote(page, FILES, "Ship")
        await expect(page).to_have_url(re.compile(rf"/compare/{FILES_VS_AZURE}\?done=vote"))
        await expect(page.get_by_role("status")).to_have_text(
            "Your vote is in: ship Claude Files API."
        )
        await expect(files.locator(".your-vote")).to_have_text("Your vote: ship")
        await expect(files.get_by_role("button", name="Ship")).to_have_attribute(
            "aria-pressed", "true"
        )

        await vote(page, AZURE, "Skip")
        await expect(azure.locator(".your-vote")).to_have_text("Your vote: skip")
        community = page.locator("table.decision tr", has_text="Community")
        await expect(community).to_contain_text("1 ship / 0 skip")
        await expect(community).to_contain_text("0 ship / 1 skip")
        await expect(page.locator("svg.chart")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=ARTIFACTS / "comparison-page.png", full_page=True)

        await vote(page, FILES, "Skip")  # change
        await expect(files.locator(".your-vote")).to_have_text("Your vote: skip")
        await expect(community).to_contain_text("0 ship / 1 skip")
        await expect(community).not_to_contain_text("1 ship / 0 skip")

        await vote(page, AZURE, "Withdraw vote")
        await expect(page.get_by_role("status")).to_have_text(
            "Your vote on Azure AI Foundry Real-Time Voice API & Model Router was withdrawn."
        )
        await expect(azure.locator(".your-vote")).to_have_text("Would you ship it?")
        await expect(azure.get_by_role("button", name="Withdraw vote")).to_have_count(0)
        await expect(community.locator("td").nth(1)).to_have_text("No community votes yet")

        cookies = {c["name"]: c for c in await page.context.cookies()}
        assert cookies["reader"]["httpOnly"] and cookies["reader"]["sameSite"] == "Lax"


async def test_bookmark_shows_on_bookmarks_page(live_url: str, chromium: Browser) -> None:
    async with browser_page(chromium, live_url) as page:
        await page.goto("/bookmarks")
        await expect(page.locator("main")).to_contain_text("No bookmarks yet")

        await page.goto(f"/compare/{AZURE_VS_LITE}")
        lite = page.locator("#tool-gemini-2-5-flash-lite")
        await lite.get_by_role("button", name="☆ Bookmark").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Gemini 2.5 Flash Lite is in your bookmarks."
        )
        await expect(lite.get_by_role("button", name="★ Bookmarked · Remove")).to_be_visible()

        await (
            page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="Bookmarks")
            .click()
        )
        item = page.locator("#bookmark-gemini-2-5-flash-lite")
        await expect(item.get_by_role("heading")).to_have_text("Gemini 2.5 Flash Lite")
        await expect(item.get_by_role("link").first).to_have_attribute(
            "href", re.compile("/compare/")
        )

        await item.get_by_role("button", name="Remove").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Gemini 2.5 Flash Lite was removed from your bookmarks."
        )
        await expect(page.locator("main")).to_contain_text("No bookmarks yet")


async def test_subscribe_confirm_and_unsubscribe(
    live_url: str, live_dsn: str, chromium: Browser
) -> None:
    address = "reader.journey@example.com"
    async with browser_page(chromium, live_url) as page:
        await page.goto(f"/compare/{FILES_VS_AZURE}")
        box = page.locator(".subscribe-box")
        await expect(box.get_by_role("heading")).to_have_text(
            "Get the next comparison in your inbox"
        )

        await box.get_by_label("Email address").fill("reader@example")
        await box.get_by_role("button", name="Subscribe").click()
        await expect(page.get_by_role("alert")).to_contain_text("does not look right")
        await expect(page.get_by_label("Email address")).to_have_value("reader@example")

        await page.get_by_label("Email address").fill(address)
        await page.get_by_role("button", name="Subscribe").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

        conn = await asyncpg.connect(live_dsn)
        try:
            sid = str(await conn.fetchval(
                "select subscriber_id from subscriber_emails where email = $1", address
            ))  # fmt: skip
            tokens = Tokens(LIVE_SECRET)

            await page.goto(f"/subscribe/confirm?token={tokens.issue(Purpose.CONFIRM, sid)}")
            assert await status(conn, sid) == "pending", "the link's GET must not confirm"
            await page.get_by_role("button", name="Confirm subscription").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("You're subscribed")
            assert await status(conn, sid) == "confirmed"

            await page.goto(f"/subscribe/confirm?token={tokens.issue(Purpose.CONFIRM, sid)}")
            await expect(page.get_by_role("heading", level=1)).to_have_text("Already confirmed")

            await page.goto(f"/unsubscribe?token={tokens.issue(Purpose.UNSUBSCRIBE, sid)}")
            assert await status(conn, sid) == "confirmed", "the link's GET must not unsubscribe"
            await page.get_by_role("button", name="Unsubscribe").click()
            await expect(page.get_by_role("heading", level=1)).to_have_text("You're unsubscribed")
            assert await status(conn, sid) == "unsubscribed"
        finally:
            await conn.close()


async def status(conn: asyncpg.Connection, sid: str) -> str:
    value: str = await conn.fetchval(
        "select status from subscribers where subscriber_id = $1::uuid", sid
    )
    return value
