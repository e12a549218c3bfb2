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


@pytest.mark.parametrize("case", PAGE_CASES.values(), ids=PAGE_CASES.keys())
async def test_pages_refuse_hostile_input(
    browser: httpx.AsyncClient, app_pool: Pool, case: Page
) -> None:
    before = await event_count(app_pool)
    if case.form is None:
        r = await browser.get(case.url)
    else:
        r = await post_form(browser, case.url, case.form)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1>The request is not valid</h1>" in r.text
    assert await event_count(app_pool) == before


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


@pytest.mark.parametrize(
    "as_of",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
    ids=["year-0", "year-10000"],
)
async def test_tally_as_of_a_time_python_cannot_hold_is_400(
    client: httpx.AsyncClient, as_of: str
) -> None:
    r = await client.get(f"{API}/tally", params={"as_of": as_of})
    assert "outside years 1 to 9999" in problem(r, 400, "invalid-request")


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
async def test_tally_as_of_the_first_and_last_moments_answers(
    client: httpx.AsyncClient, as_of: str
) -> None:
    await client.put(f"{API}/votes/{FILES}", json={"verdict": "ship"})
    r = await client.get(f"{API}/tally", params={"as_of": as_of})
    assert r.status_code == 200, r.text
    ship = 0 if as_of.startswith("0001") else 1
    assert r.json()["tallies"][FILES]["ship"] == ship


JSON_CASES = {
    "a vote": ("PUT", f"{API}/votes/{FILES}", DEEP),
    "a vote's verdict": ("PUT", f"{API}/votes/{FILES}", '{"verdict":' + DEEP + "}"),
    "a subscription": ("POST", "/api/v1/subscriptions", DEEP),
    "a subscription's email": ("POST", "/api/v1/subscriptions", '{"email":' + DEEP + "}"),
}


@pytest.mark.parametrize(("method", "url", "body"), JSON_CASES.values(), ids=JSON_CASES.keys())
async def test_json_nested_too_deep_is_400(
    client: httpx.AsyncClient, app_pool: Pool, method: str, url: str, body: str
) -> None:
    before = await event_count(app_pool)
    r = await client.request(
        method, url, content=body, headers={"content-type": "application/json"}
    )
    assert "nested too deeply" in problem(r, 400, "invalid-request")
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


@pytest.mark.parametrize(("method", "url", "headers"), API_CASES.values(), ids=API_CASES.keys())
async def test_api_refuses_nul_bytes(
    client: httpx.AsyncClient, app_pool: Pool, method: str, url: str, headers: dict[str, str]
) -> None:
    before = await event_count(app_pool)
    body = {"verdict": "ship"} if "votes" in url else None
    r = await client.request(method, url, json=body, headers=headers)
    problem(r, 400, "invalid-request")
    assert await event_count(app_pool) == before


@pytest.mark.calendar
@pytest.mark.parametrize("week", ["9999-W52", "0001-W01"])
async def test_operator_preview_of_a_week_python_cannot_hold_is_400(
    pool: Pool, settings: Settings, week: str
) -> None:
    app = create_app(settings.with_(operator_token="op-secret"), clock=CLOCK)
    auth = {"Authorization": "Bearer op-secret"}
    async with app.lifespan(), asgi_client(app) as client:
        r = await client.get(f"/operator/digest/preview?week={week}", headers=auth)
        assert r.status_code == 400 and "outside the weeks of years 1 to 9999" in r.text
        last = await client.get("/operator/digest/preview?week=9999-W51", headers=auth)
        assert last.status_code == 404 and "nothing published in 9999-W51" in last.text
