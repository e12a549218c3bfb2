"""Hostile and broken input: each case once answered 500. Now each is a clear 4xx (a page
for the site, problem details for the API) and appends nothing to the event log."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from services.api.app import create_app
from services.core.config import Settings
from services.core.store import Pool
from tests.asgi import asgi_client
from tests.fixtures import CLOCK

from .conftest import FILES, FILES_VS_AZURE, event_count, post_form

CMP = f"/compare/{FILES_VS_AZURE}"
API = f"/api/v1/comparisons/{FILES_VS_AZURE}"
DEEP = "[" * 5000 + "]" * 5000
"""JSON nested 5,000 deep: msgspec gives up with RecursionError, once a 500."""


@dataclass(frozen=True)
class Page:
    """A request as a browser makes it: GET, or a form POST with the CSRF field."""

    url: str
    form: dict[str, str] | None = None


PAGE_CASES = {
    "NUL in a comparison's path": Page("/compare/a%00b"),
    "NUL in a vote form's tool": Page(f"{CMP}/votes/a%00b", {"verdict": "ship"}),
    "NUL in a vote form's comparison": Page(f"/compare/a%00b/votes/{FILES}", {"verdict": "ship"}),
    "NUL in a bookmark form's tool": Page("/bookmarks/a%00b", {"action": "add"}),
    "NUL in the bookmarks page's notice": Page("/bookmarks?done=vote&tool=%00"),
    "NUL in a comparison page's notice": Page(f"{CMP}?done=vote&tool=%00"),
    "an unknown notice": Page(f"{CMP}?done=%00&tool={FILES}"),
    "NUL in a problem's name": Page("/problems/a%00"),
    "a slug that is not one": Page("/compare/Robert'); drop table events;--"),
    "a slug too long": Page(f"/compare/{'a' * 101}"),
}


async def test_pages_refuse_hostile_input(browser: httpx.AsyncClient, app_pool: Pool) -> None:
    # One app for every case (each case's setup cost more than the case).
    for name, case in PAGE_CASES.items():
        before = await event_count(app_pool)
        if case.form is None:
            r = await browser.get(case.url)
        else:
            r = await post_form(browser, case.url, case.form)
        assert r.status_code == 400, (name, r.status_code, r.text)
        assert r.headers["content-type"].startswith("text/html"), name
        assert "<h1>The request is not valid</h1>" in r.text, name
        assert await event_count(app_pool) == before, name


async def test_nul_in_a_static_path_is_not_found(browser: httpx.AsyncClient) -> None:
    r = await browser.get("/static/site.css%00")
    assert r.status_code == 404 and "<h1>Page not found</h1>" in r.text
    assert (await browser.get("/static/site.css")).status_code == 200


def problem(r: httpx.Response, status: int, slug: str) -> str:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status
    detail: str = body.get("detail") or ""
    return detail


async def test_tally_as_of_a_time_python_cannot_hold_is_400(client: httpx.AsyncClient) -> None:
    for as_of in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        r = await client.get(f"{API}/tally", params={"as_of": as_of})
        assert "outside years 1 to 9999" in problem(r, 400, "invalid-request"), as_of
    # The first and the last moment Python holds in UTC are answered.
    await client.put(f"{API}/votes/{FILES}", json={"verdict": "ship"})
    for as_of, ship in (("0001-01-01T00:00:00Z", 0), ("9999-12-31T23:59:59Z", 1)):
        r = await client.get(f"{API}/tally", params={"as_of": as_of})
        assert r.status_code == 200, r.text
        assert r.json()["tallies"][FILES]["ship"] == ship


JSON_CASES = {
    "a vote": ("PUT", f"{API}/votes/{FILES}", DEEP),
    "a vote's verdict": ("PUT", f"{API}/votes/{FILES}", '{"verdict":' + DEEP + "}"),
    "a subscription": ("POST", "/api/v1/subscriptions", DEEP),
    "a subscription's email": ("POST", "/api/v1/subscriptions", '{"email":' + DEEP + "}"),
}


async def test_json_nested_too_deep_is_400(client: httpx.AsyncClient, app_pool: Pool) -> None:
    before = await event_count(app_pool)
    for name, (method, url, body) in JSON_CASES.items():
        r = await client.request(
            method, url, content=body, headers={"content-type": "application/json"}
        )
        assert "nested too deeply" in problem(r, 400, "invalid-request"), name
    assert await event_count(app_pool) == before


async def test_deep_json_posted_to_a_form_is_refused(
    browser: httpx.AsyncClient, app_pool: Pool
) -> None:
    before = await event_count(app_pool)
    headers = {"content-type": "application/json", "X-CSRFToken": browser.cookies["csrftoken"]}
    for url in (f"{CMP}/votes/{FILES}", "/subscribe", "/unsubscribe/one-click?token=x"):
        r = await browser.post(url, content=DEEP, headers=headers)
        assert 400 <= r.status_code < 500, (url, r.status_code)
        assert r.headers["content-type"].startswith("text/html")
    assert await event_count(app_pool) == before


API_CASES = {
    "NUL in a comparison's path": ("GET", "/api/v1/comparisons/a%00b", {}),
    "NUL in a vote's tool": ("PUT", f"{API}/votes/a%00b", {}),
    "NUL in a bookmark's tool": ("PUT", "/api/v1/bookmarks/a%00b", {}),
    "NUL in an Idempotency-Key": ("PUT", f"/api/v1/bookmarks/{FILES}", {"Idempotency-Key": "a\0"}),
}


async def test_api_refuses_nul_bytes(client: httpx.AsyncClient, app_pool: Pool) -> None:
    before = await event_count(app_pool)
    for name, (method, url, headers) in API_CASES.items():
        body = {"verdict": "ship"} if "votes" in url else None
        r = await client.request(method, url, json=body, headers=headers)
        assert problem(r, 400, "invalid-request") is not None, name
    assert await event_count(app_pool) == before


@pytest.mark.calendar
async def test_operator_preview_of_a_week_python_cannot_hold_is_400(
    pool: Pool, settings: Settings
) -> None:
    app = create_app(settings.with_(operator_token="op-secret"), clock=CLOCK)
    auth = {"Authorization": "Bearer op-secret"}
    async with app.lifespan(), asgi_client(app) as client:
        for week in ("9999-W52", "0001-W01"):
            r = await client.get(f"/operator/digest/preview?week={week}", headers=auth)
            assert r.status_code == 400, (week, r.text)
            assert "outside the weeks of years 1 to 9999" in r.text
        last = await client.get("/operator/digest/preview?week=9999-W51", headers=auth)
        assert last.status_code == 404 and "nothing published in 9999-W51" in last.text
