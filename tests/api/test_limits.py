"""Per-client limits beyond votes and subscriptions: bookmarks, one-click unsubscribes,
new readers (ballot stuffing with a fresh cookie per request), and one count shared by
every API process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.api.security import Limits
from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriptions import request_subscription
from services.core.tokens import Purpose, Tokens
from tests.asgi import asgi_client

from .conftest import (
    AZURE,
    BASE_URL,
    FILES,
    FILES_VS_AZURE,
    SECRET,
    event_count,
    limits_for_test,
    post_form,
    running,
)

BOOKMARK_LIMIT, ONE_CLICK_LIMIT, NEW_READER_LIMIT = 3, 2, 2
VOTE = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes/{FILES}"


@pytest.fixture
def limits() -> Limits:
    return limits_for_test(
        bookmarks=("minute", BOOKMARK_LIMIT),
        one_click=("minute", ONE_CLICK_LIMIT),
        new_readers=("hour", NEW_READER_LIMIT),
    )


async def test_bookmarks_are_limited_apart_from_votes(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, app_pool: Pool
) -> None:
    for i in range(BOOKMARK_LIMIT):
        r = await (client.put if i % 2 == 0 else client.delete)(f"/api/v1/bookmarks/{AZURE}")
        assert r.status_code == 200
    before = await event_count(app_pool)
    r = await client.put(f"/api/v1/bookmarks/{AZURE}")
    assert r.status_code == 429 and r.json()["type"] == "/problems/rate-limited"
    assert int(r.headers["retry-after"]) > 0
    r = await post_form(browser, f"/bookmarks/{AZURE}", {"action": "add"})
    assert r.status_code == 429 and "<h1>Too many requests</h1>" in r.text
    assert await event_count(app_pool) == before
    assert (await client.put(VOTE, json={"verdict": "ship"})).status_code == 200


@pytest.mark.calendar
async def test_one_click_unsubscribe_is_bounded_per_client(
    app: Litestar, app_pool: Pool, clock: Clock
) -> None:
    sid = await request_subscription(app_pool, "mailbox@example.com")
    token = Tokens(SECRET, clock=clock).issue(Purpose.UNSUBSCRIBE, sid)
    answers = []
    async with asgi_client(app, base_url=BASE_URL) as mailer:  # no cookie, no CSRF token
        for _ in range(ONE_CLICK_LIMIT + 1):
            r = await mailer.post(
                f"/unsubscribe/one-click?token={token}",
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            answers.append(r.status_code)
    assert answers == [200] * ONE_CLICK_LIMIT + [429]
    assert Limits().one_click[1] >= 100, "far above one POST per click of a real mail client"


async def test_a_fresh_cookie_per_request_cannot_vote_past_the_new_reader_cap(
    app: Litestar, app_pool: Pool
) -> None:
    async with asgi_client(app, base_url=BASE_URL) as c:
        for _ in range(NEW_READER_LIMIT):  # each visit without the cookie is a new reader
            r = await c.get("/")
            assert "reader" in r.cookies
            c.cookies.delete("reader")
        before = await event_count(app_pool)
        page = await c.get(f"/compare/{FILES_VS_AZURE}")  # reading still works...
        assert page.status_code == 200 and "reader" not in page.cookies
        c.headers["X-CSRFToken"] = c.cookies["csrftoken"]
        refused = [
            await c.put(VOTE, json={"verdict": "ship"}),
            await c.put(f"/api/v1/bookmarks/{AZURE}"),
            await post_form(c, f"/compare/{FILES_VS_AZURE}/votes/{FILES}", {"verdict": "ship"}),
        ]
        assert [r.status_code for r in refused] == [429, 429, 429]
        problem = "/problems/new-reader-limit"
        assert refused[0].json()["type"] == refused[1].json()["type"] == problem
        assert int(refused[0].headers["retry-after"]) > 3000  # the hour's window
        assert "Too many new readers from your network" in refused[2].text
        assert await event_count(app_pool) == before, "...voting does not"


async def test_readers_with_a_cookie_vote_on_past_the_new_reader_cap(
    client: httpx.AsyncClient, app: Litestar
) -> None:
    async with asgi_client(app, base_url=BASE_URL) as stranger:
        for _ in range(NEW_READER_LIMIT + 3):
            await stranger.get("/")
            stranger.cookies.delete("reader")
    assert (await client.put(VOTE, json={"verdict": "skip"})).status_code == 200


@contextlib.asynccontextmanager
async def api_process(
    dsn: str, redis_url: str, limits: Limits, clock: Clock
) -> AsyncIterator[Litestar]:
    """Another API process on the same database and Redis (its own pool and counter)."""
    settings = Settings(
        database_url=dsn, redis_url=redis_url, secret_key=SECRET, public_url=BASE_URL
    )
    app = create_app(settings, limits=limits, clock=clock)
    async with running(app):
        yield app


async def test_two_api_processes_share_one_exact_count_under_a_burst(
    client: httpx.AsyncClient, dsn: str, redis_url: str, limits: Limits, clock: Clock
) -> None:
    burst = 30
    async with (
        api_process(dsn, redis_url, limits, clock) as other,
        asgi_client(
            other, base_url=BASE_URL, cookies=client.cookies, headers=client.headers
        ) as same_reader_elsewhere,
    ):
        tries = [
            (client if i % 2 else same_reader_elsewhere).put(
                f"/api/v1/bookmarks/{AZURE}" if i % 3 else f"/api/v1/bookmarks/{FILES}"
            )
            for i in range(burst)
        ]
        answers = [r.status_code for r in await asyncio.gather(*tries)]
    assert sorted(answers) == [200] * BOOKMARK_LIMIT + [429] * (burst - BOOKMARK_LIMIT)
