"""Rotating SECRET_KEY on a running site: the same database served first with the old key,
then with ``new,old``, then with ``new`` alone. Reader cookies, open forms (CSRF) and
mail links signed with the old key work until it is removed; after that a reader is a
new reader, a form left open fails once and the next page view heals it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriptions import request_subscription
from services.core.tokens import Purpose, Tokens
from tests.asgi import asgi_client

from .conftest import AZURE, BASE_URL, FILES, FILES_VS_AZURE, limits_for_test, post_form, running

pytestmark = pytest.mark.calendar  # mail tokens are dated

OLD = "the-old-secret-key-of-at-least-32-bytes"
NEW = "the-new-secret-key-of-at-least-32-bytes"
VOTE_FORM = f"/compare/{FILES_VS_AZURE}/votes/{FILES}"


@contextlib.asynccontextmanager
async def site(dsn: str, redis_url: str, secret_key: str, clock: Clock) -> AsyncIterator[Litestar]:
    settings = Settings(
        database_url=dsn, redis_url=redis_url, secret_key=secret_key, public_url=BASE_URL
    )
    app = create_app(settings, limits=limits_for_test(), clock=clock)
    async with running(app):
        yield app


async def my_votes(c: httpx.AsyncClient) -> dict[str, str]:
    r = await c.get(f"/api/v1/comparisons/{FILES_VS_AZURE}")
    votes: dict[str, str] = r.json()["reader"]["votes"]
    return votes


def set_cookies(r: httpx.Response) -> set[str]:
    return {v.split("=", 1)[0] for v in r.headers.get_list("set-cookie")}


async def test_rotation_keeps_readers_forms_and_links_until_the_old_key_goes(
    dsn: str, pool: Pool, redis_url: str, clock: Clock
) -> None:
    await import_catalog(pool, load_catalog(DEMO_CATALOG))
    sid = await request_subscription(pool, "reader@example.com")
    link = Tokens(OLD, clock=clock).issue(Purpose.UNSUBSCRIBE, sid)
    cookies = httpx.Cookies()

    async with site(dsn, redis_url, OLD, clock) as app, asgi_client(app, BASE_URL) as c:
        await c.get(f"/compare/{FILES_VS_AZURE}")
        assert (await post_form(c, VOTE_FORM, {"verdict": "ship"})).status_code == 303
        open_form_token = c.cookies["csrftoken"]  # a form left open in a tab
        cookies.update(c.cookies)

    async with (
        site(dsn, redis_url, f"{NEW},{OLD}", clock) as app,
        asgi_client(app, BASE_URL, cookies=cookies) as c,
    ):
        page = await c.get(f"/unsubscribe?token={link}")
        assert "Unsubscribe from the weekly verdicts?" in page.text  # an old mail's link
        assert not set_cookies(page), "old cookies still read: nothing is replaced"
        assert await my_votes(c) == {FILES: "ship"}  # the same reader
        r = await c.post(VOTE_FORM, data={"_csrf_token": open_form_token, "verdict": "skip"})
        assert r.status_code == 303, "the form opened before the rotation still posts"
        assert await my_votes(c) == {FILES: "skip"}
        fresh = await asgi_client(app, BASE_URL).__aenter__()
        await fresh.get("/")
        signed_by_new = fresh.cookies["reader"], fresh.cookies["csrftoken"]
        await fresh.aclose()

    async with site(dsn, redis_url, NEW, clock) as app, asgi_client(app, BASE_URL) as c:
        c.cookies.update(cookies)
        r = await c.post(VOTE_FORM, data={"_csrf_token": open_form_token, "verdict": "ship"})
        assert r.status_code == 403, "the form left open across the removal fails once"
        page = await c.get(f"/compare/{FILES_VS_AZURE}")
        assert {"csrftoken", "reader"} <= set_cookies(page), "...and a page view heals it"
        assert await my_votes(c) == {}, "the old key's cookie is a new reader now"
        assert (await post_form(c, VOTE_FORM, {"verdict": "ship"})).status_code == 303
        assert (await c.get(f"/unsubscribe?token={link}")).status_code == 400
        async with asgi_client(app, BASE_URL) as later:  # signed during the rotation
            later.cookies.set("reader", signed_by_new[0])
            later.cookies.set("csrftoken", signed_by_new[1])
            r = await post_form(later, f"/bookmarks/{AZURE}", {"action": "add"})
            assert r.status_code == 303 and not set_cookies(r)
