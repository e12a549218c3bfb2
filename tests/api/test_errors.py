"""Bad input gets a clear answer and loses nothing: each case leaves the event log as it was.

JSON callers get RFC 9457 problem details with a stable ``type``; forms get a page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar
from litestar.exceptions import NotAuthorizedException

from services.api.problems import explain
from services.core.clock import fixed_clock
from services.core.events import ComparisonWithdrawn
from services.core.store import Connection, Pool
from services.core.streams import COMPARISON
from services.core.tokens import Purpose, Tokens
from services.core.writes import append_at_current_version, run_write
from tests.asgi import asgi_client
from tests.conftest import NOW

from .conftest import AZURE, BASE_URL, FILES, FILES_VS_AZURE, SECRET, event_count, post_form

VOTES = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes"


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = r.json()
    assert body["type"] == f"/problems/{slug}" and body["status"] == status and body["title"]
    assert "Traceback" not in r.text
    return body


def page(r: httpx.Response, status: int, title: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert f"<h1>{title}</h1>" in r.text
    assert "Traceback" not in r.text


@pytest.fixture
def unchanged(app_pool: Pool) -> Callable[[Awaitable[httpx.Response]], Awaitable[httpx.Response]]:
    """Await a request and assert the event log has exactly as many events as before."""

    async def check(request: Awaitable[httpx.Response]) -> httpx.Response:
        before = await event_count(app_pool)
        response = await request
        assert await event_count(app_pool) == before, "an error must append nothing"
        return response

    return check


Unchanged = Callable[[Awaitable[httpx.Response]], Awaitable[httpx.Response]]


async def test_missing_csrf_token_is_403(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    r = await unchanged(
        client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers={"X-CSRFToken": ""})
    )
    problem(r, 403, "csrf-failed")
    forged = client.cookies["csrftoken"][:-4] + "0000"
    r = await unchanged(
        client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers={"X-CSRFToken": forged})
    )
    problem(r, 403, "csrf-failed")
    r = await unchanged(
        post_form(
            browser, f"/compare/{FILES_VS_AZURE}/votes/{FILES}", {"verdict": "ship"}, csrf=False
        )
    )
    page(r, 403, "The form expired")


async def test_forged_reader_cookie_is_a_new_reader(
    app: Litestar, client: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})
    genuine = client.cookies["reader"]
    reader_id = genuine.rsplit(".", 1)[0]
    for forged in (reader_id, f"{reader_id}.bad-signature", genuine[:-2] + "xx", "garbage"):
        async with asgi_client(app, base_url=BASE_URL, cookies={"reader": forged}) as c:
            r = await unchanged(c.get(f"/api/v1/comparisons/{FILES_VS_AZURE}"))
            assert r.json()["reader"] == {"votes": {}, "bookmarked": []}
            new = next(v for v in r.headers.get_list("set-cookie") if v.startswith("reader="))
            assert reader_id not in new


async def test_oversized_body_is_413(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    big = "x" * 20_000
    r = await unchanged(client.post("/api/v1/subscriptions", json={"email": big + "@example.com"}))
    problem(r, 413, "body-too-large")
    r = await unchanged(post_form(browser, "/subscribe", {"email": big}))
    page(r, 413, "Request too large")


async def test_unknown_comparison_or_tool_is_404(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    problem(await unchanged(client.get("/api/v1/comparisons/nope")), 404, "unknown-comparison")
    problem(
        await unchanged(client.put("/api/v1/comparisons/nope/votes/x", json={"verdict": "ship"})),
        404,
        "unknown-comparison",
    )
    problem(
        await unchanged(client.get("/api/v1/comparisons/nope/tally")), 404, "unknown-comparison"
    )
    problem(
        await unchanged(client.put(f"{VOTES}/no-such-tool", json={"verdict": "ship"})),
        404,
        "unknown-tool",
    )
    problem(await unchanged(client.put("/api/v1/bookmarks/no-such-tool")), 404, "unknown-tool")
    problem(await unchanged(client.get("/api/v1/no-such-path")), 404, "not-found")
    page(await unchanged(browser.get("/compare/nope")), 404, "No such comparison")
    page(await unchanged(browser.get("/no-such-page")), 404, "Page not found")
    r = await unchanged(post_form(browser, "/compare/nope/votes/x", {"verdict": "ship"}))
    page(r, 404, "No such comparison")


async def test_tool_of_another_comparison_is_422(
    client: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    r = await unchanged(client.put(f"{VOTES}/gemini-2-5-flash-lite", json={"verdict": "ship"}))
    body = problem(r, 422, "tool-not-in-comparison")
    assert FILES in str(body["detail"]) and AZURE in str(body["detail"])


async def test_bad_email_is_422(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    r = await unchanged(client.post("/api/v1/subscriptions", json={"email": "not an address"}))
    problem(r, 422, "invalid-email")
    r = await unchanged(post_form(browser, "/subscribe", {"email": "reader@example"}))
    assert r.status_code == 422
    assert 'role="alert"' in r.text and 'value="reader@example"' in r.text  # kept, not lost


async def test_malformed_body_is_400_with_the_field(
    client: httpx.AsyncClient, unchanged: Unchanged
) -> None:
    r = await unchanged(client.put(f"{VOTES}/{FILES}", json={"verdict": "maybe"}))
    body = problem(r, 400, "invalid-request")
    assert body["errors"] and "verdict" in str(body["errors"])
    r = await unchanged(
        client.put(
            f"{VOTES}/{FILES}", content=b"{not json", headers={"content-type": "application/json"}
        )
    )
    problem(r, 400, "invalid-request")


async def test_bad_form_value_is_a_page(browser: httpx.AsyncClient, unchanged: Unchanged) -> None:
    r = await unchanged(
        post_form(browser, f"/compare/{FILES_VS_AZURE}/votes/{FILES}", {"verdict": "maybe"})
    )
    page(r, 400, "The request is not valid")
    assert "Choose ship, skip or withdraw." in r.text


async def test_withdrawn_comparison_takes_no_votes(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, app_pool: Pool, unchanged: Unchanged
) -> None:
    async def withdraw(conn: Connection) -> None:
        await append_at_current_version(
            conn,
            COMPARISON.name(FILES_VS_AZURE),
            [ComparisonWithdrawn(slug=FILES_VS_AZURE, reason="test")],
        )

    await run_write(app_pool, withdraw)
    r = await unchanged(client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}))
    problem(r, 409, "comparison-withdrawn")
    r = await browser.get(f"/compare/{FILES_VS_AZURE}")
    assert "was withdrawn" in r.text and "disabled" in r.text


async def test_method_not_allowed(client: httpx.AsyncClient, unchanged: Unchanged) -> None:
    problem(await unchanged(client.post("/api/v1/comparisons")), 405, "method-not-allowed")


def _token_from_the_past(purpose: Purpose, value: str, age: timedelta) -> str:
    return Tokens(SECRET, clock=fixed_clock(NOW - age)).issue(purpose, value)


@pytest.mark.calendar
async def test_bad_or_expired_links_get_their_own_pages(
    browser: httpx.AsyncClient, client: httpx.AsyncClient, app_pool: Pool, unchanged: Unchanged
) -> None:
    await client.post("/api/v1/subscriptions", json={"email": "late@example.com"})
    sid = str(await app_pool.fetchval("select subscriber_id from subscriber_emails"))
    expired = _token_from_the_past(Purpose.CONFIRM, sid, age=timedelta(days=4))
    page(
        await unchanged(browser.get(f"/subscribe/confirm?token={expired}")),
        410,
        "This link has expired",
    )
    r = await unchanged(post_form(browser, "/subscribe/confirm", {"token": expired}))
    page(r, 410, "This link has expired")
    page(
        await unchanged(browser.get("/subscribe/confirm?token=forged")),
        400,
        "This link is not valid",
    )
    page(await unchanged(browser.get("/subscribe/confirm")), 400, "This link is not valid")
    page(await unchanged(browser.get("/unsubscribe?token=forged")), 400, "This link is not valid")


def test_other_http_errors_are_about_blank_with_the_status_phrase() -> None:
    problem = explain(NotAuthorizedException("operator token required")).problem()
    assert (problem.type, problem.title, problem.status) == ("about:blank", "Unauthorized", 401)
    assert problem.detail == "operator token required"


def test_unexpected_errors_reveal_nothing() -> None:
    explained = explain(RuntimeError("secret internals"))
    assert explained.kind.status == 500 and explained.detail is None
    assert "secret" not in str(explained.problem())


async def test_security_headers_on_pages_api_and_errors(
    client: httpx.AsyncClient, browser: httpx.AsyncClient
) -> None:
    for r in (
        await browser.get("/"),
        await browser.get("/nope"),
        await client.get("/api/v1/comparisons"),
        await client.get("/api/v1/comparisons/nope"),
        await browser.get("/static/site.css"),
    ):
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
    assert "<script" not in (await browser.get(f"/compare/{FILES_VS_AZURE}")).text
