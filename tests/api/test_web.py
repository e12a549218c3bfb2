"""Server-rendered pages and forms: post/redirect/get, confirmations, the subscribe flow."""

from __future__ import annotations

import re

import httpx
import pytest

from services.core.clock import Clock
from services.core.store import Pool
from services.core.tokens import Purpose, Tokens

from .conftest import AZURE, FILES, FILES_VS_AZURE, SECRET, event_count, post_form

COMPARE = f"/compare/{FILES_VS_AZURE}"


async def test_home_lists_comparisons_newest_first(browser: httpx.AsyncClient) -> None:
    html = (await browser.get("/")).text
    slugs = re.findall(r'href="/compare/([a-z0-9-]+)"', html)
    assert slugs == [
        "claude-4-api-streaming-caching-vs-azure-ai-foundry-voice-router",
        FILES_VS_AZURE,
        "azure-ai-foundry-voice-router-vs-mistral-4b-edge",
        "azure-ai-foundry-voice-router-vs-gemini-2-5-flash-lite",
        "azure-ai-foundry-voice-router-vs-gemini-2-5-flash-native-audio",
    ]
    assert 'Ship</span> · <span class="counts">4 ship / 0 skip' in html
    assert "No community votes yet" in html
    assert "Get the next comparison in your inbox" in html


@pytest.mark.calendar
async def test_comparison_page_shows_both_sides_panel_and_community(
    browser: httpx.AsyncClient,
) -> None:
    html = (await browser.get(COMPARE)).text
    for text in (
        "Claude Files API",
        "Upload a document once and point Claude at it on every later call",
        "Panel verdict",
        "Pricing",
        "Best for",
        "Reviewer scorecard",
        "86/100",
        "No community votes yet",
        'name="_csrf_token"',
    ):
        assert text in html, text
    assert html.count('<article class="tool-card') == 2
    assert '<svg class="chart"' not in html  # no votes, no chart


async def test_vote_posts_redirect_back_with_a_confirmation(
    browser: httpx.AsyncClient, app_pool: Pool
) -> None:
    before = await event_count(app_pool)
    r = await post_form(browser, f"{COMPARE}/votes/{FILES}", {"verdict": "ship"})
    assert r.status_code == 303
    assert r.headers["location"] == f"{COMPARE}?done=vote&tool={FILES}"
    html = (await browser.get(r.headers["location"])).text
    assert '<p class="notice" role="status">Your vote is in: ship Claude Files API.</p>' in html
    assert "Your vote: <strong>ship</strong>" in html
    assert '<svg class="chart"' in html and "Claude Files API: 100% ship" in html

    r = await post_form(browser, f"{COMPARE}/votes/{FILES}", {"verdict": "skip"})
    html = (await browser.get(r.headers["location"])).text
    assert "Your vote is in: skip Claude Files API." in html

    r = await post_form(browser, f"{COMPARE}/votes/{FILES}", {"verdict": "withdraw"})
    assert r.headers["location"] == f"{COMPARE}?done=withdrawn&tool={FILES}"
    html = (await browser.get(r.headers["location"])).text
    assert "Your vote on Claude Files API was withdrawn." in html
    assert "Withdraw vote" not in html
    assert await event_count(app_pool) == before + 3


async def test_bookmark_forms_redirect_only_to_our_pages(browser: httpx.AsyncClient) -> None:
    r = await post_form(browser, f"/bookmarks/{AZURE}", {"action": "add", "back": FILES_VS_AZURE})
    assert r.headers["location"] == f"{COMPARE}?done=bookmarked&tool={AZURE}"
    html = (await browser.get("/bookmarks")).text
    assert 'id="bookmark-azure-ai-foundry-voice-router"' in html
    for back in ("https://evil.example/", "//evil.example", "../../etc", ""):
        r = await post_form(browser, f"/bookmarks/{FILES}", {"action": "add", "back": back})
        assert r.headers["location"].startswith("/bookmarks?"), back
    r = await post_form(browser, f"/bookmarks/{AZURE}", {"action": "remove", "back": "bookmarks"})
    html = (await browser.get(r.headers["location"])).text
    assert "Azure AI Foundry Real-Time Voice API &amp; Model Router was removed" in html
    assert 'id="bookmark-azure-ai-foundry-voice-router"' not in html


async def test_empty_bookmarks_page(browser: httpx.AsyncClient) -> None:
    assert "No bookmarks yet" in (await browser.get("/bookmarks")).text


@pytest.mark.calendar
async def test_subscribe_confirm_unsubscribe_flow(
    browser: httpx.AsyncClient, app_pool: Pool, clock: Clock
) -> None:
    r = await post_form(browser, "/subscribe", {"email": "Reader@Example.com"})
    assert (r.status_code, r.headers["location"]) == (303, "/subscribe/check-inbox")
    assert "Check your inbox" in (await browser.get(r.headers["location"])).text
    sid = str(await app_pool.fetchval("select subscriber_id from subscriber_emails"))
    tokens = Tokens(SECRET, clock=clock)
    confirm = tokens.issue(Purpose.CONFIRM, sid)

    async def status() -> str:
        value: str = await app_pool.fetchval(
            "select status from subscribers where subscriber_id = $1::uuid", sid
        )
        return value

    before = await event_count(app_pool)
    html = (await browser.get(f"/subscribe/confirm?token={confirm}")).text
    assert "Confirm subscription" in html and f'value="{confirm}"' in html
    assert await event_count(app_pool) == before and await status() == "pending"

    r = await post_form(browser, "/subscribe/confirm", {"token": confirm})
    assert r.headers["location"] == "/subscribe/confirmed?outcome=confirmed"
    assert "You're subscribed" in (await browser.get(r.headers["location"])).text
    assert await status() == "confirmed"

    r = await post_form(browser, "/subscribe/confirm", {"token": confirm})  # second click
    assert r.headers["location"] == "/subscribe/confirmed?outcome=already_confirmed"
    assert "Already confirmed" in (await browser.get(r.headers["location"])).text
    assert "Already confirmed" in (await browser.get(f"/subscribe/confirm?token={confirm}")).text

    leave = tokens.issue(Purpose.UNSUBSCRIBE, sid)
    assert (
        "Unsubscribe from the weekly verdicts?"
        in (await browser.get(f"/unsubscribe?token={leave}")).text
    )
    assert await status() == "confirmed"
    r = await post_form(browser, "/unsubscribe", {"token": leave})
    assert r.headers["location"] == "/unsubscribe/done?outcome=unsubscribed"
    assert await status() == "unsubscribed"
    r = await post_form(browser, "/unsubscribe", {"token": leave})
    assert r.headers["location"] == "/unsubscribe/done?outcome=already_unsubscribed"
    assert "Already unsubscribed" in (await browser.get(f"/unsubscribe?token={leave}")).text


@pytest.mark.calendar
async def test_one_click_unsubscribe_needs_no_cookie_or_csrf(
    client: httpx.AsyncClient, app_pool: Pool, clock: Clock
) -> None:
    await client.post("/api/v1/subscriptions", json={"email": "mailbox@example.com"})
    sid = str(await app_pool.fetchval("select subscriber_id from subscriber_emails"))
    token = Tokens(SECRET, clock=clock).issue(Purpose.UNSUBSCRIBE, sid)
    transport = client._transport  # the same app, but a mail client: no cookies at all
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as mailer:
        for _ in range(2):  # idempotent
            r = await mailer.post(
                f"/unsubscribe/one-click?token={token}",
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert r.status_code == 200
            assert "set-cookie" not in r.headers
    reason = await app_pool.fetchval(
        "select unsubscribe_reason from subscribers where subscriber_id = $1::uuid", sid
    )
    assert reason == "one-click"


async def test_problem_types_are_documented(browser: httpx.AsyncClient) -> None:
    html = (await browser.get("/problems/invalid-email")).text
    assert "/problems/invalid-email" in html and "422" in html
    assert (await browser.get("/problems/nope")).status_code == 404
