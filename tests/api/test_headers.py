"""Headers for the open internet: HSTS on an https site; no shared cache keeps an answer
that depends on the reader; a page whose address carries a mail token sends no Referer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.api.security import HSTS
from services.core.clock import Clock
from services.core.config import Settings
from tests.asgi import asgi_client

from .conftest import AZURE, FILES, FILES_VS_AZURE, SECRET, limits_for_test, post_form, running

READER_ANSWERS = [
    "/",
    f"/compare/{FILES_VS_AZURE}",
    "/compare/no-such-comparison",  # an error page still carries the reader's cookies
    "/bookmarks",
    "/subscribe",
    "/api/v1/comparisons",
    f"/api/v1/comparisons/{FILES_VS_AZURE}",
    "/api/v1/bookmarks",
]
NOT_THE_READERS = ["/static/site.css", "/healthz", "/nowhere"]


@contextlib.asynccontextmanager
async def https_site(dsn: str, redis_url: str, clock: Clock) -> AsyncIterator[Litestar]:
    settings = Settings(
        database_url=dsn,
        redis_url=redis_url,
        secret_key=SECRET,
        public_url="https://verdicts.example",
    )
    app = create_app(settings, limits=limits_for_test(), clock=clock)
    async with running(app):
        yield app


async def test_hsts_only_when_the_site_is_https(
    browser: httpx.AsyncClient, dsn: str, redis_url: str, clock: Clock
) -> None:
    for path in ("/", "/static/site.css", "/nowhere"):
        assert "strict-transport-security" not in (await browser.get(path)).headers
    async with (
        https_site(dsn, redis_url, clock) as app,
        asgi_client(app, base_url="https://verdicts.example") as c,
    ):
        for path in ("/", "/api/v1/comparisons", "/static/site.css", "/nowhere", "/healthz"):
            assert (await c.get(path)).headers["strict-transport-security"] == HSTS


@pytest.mark.parametrize("path", READER_ANSWERS)
async def test_answers_that_depend_on_the_reader_are_never_stored_by_shared_caches(
    browser: httpx.AsyncClient, path: str
) -> None:
    r = await browser.get(path)
    assert r.headers["cache-control"] == "private, no-store"
    assert "Cookie" in [v.strip() for v in r.headers["vary"].split(",")]


async def test_reader_actions_are_not_stored_either(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    answers = [
        await client.put(
            f"/api/v1/comparisons/{FILES_VS_AZURE}/votes/{FILES}", json={"verdict": "ship"}
        ),
        await client.put(f"/api/v1/bookmarks/{AZURE}"),
        await post_form(browser, f"/bookmarks/{AZURE}", {"action": "add"}),
    ]
    assert [r.headers["cache-control"] for r in answers] == ["private, no-store"] * 3


@pytest.mark.parametrize("path", NOT_THE_READERS)
async def test_static_files_and_probes_stay_cacheable(
    browser: httpx.AsyncClient, path: str
) -> None:
    r = await browser.get(path)
    assert "no-store" not in r.headers.get("cache-control", "")
    assert "cookie" not in r.headers.get("vary", "").lower()
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("path", ["/unsubscribe?token=abc", "/subscribe/confirm?x=1&token=abc"])
async def test_pages_with_a_token_in_their_address_send_no_referer(
    browser: httpx.AsyncClient, path: str
) -> None:
    assert (await browser.get(path)).headers["referrer-policy"] == "no-referrer"
    assert (await browser.get("/subscribe?tokens=1")).headers["referrer-policy"] == "same-origin"
