"""PostgreSQL stopped under a running app: every request is a 503 with ``Retry-After``
(a page for pages and forms, problem details for the API), never a 500; once it is
started again the same app serves again, with no restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import Clock
from services.core.config import Settings
from services.core.migrations import migrate
from tests.asgi import asgi_client
from tests.outages import StoppablePostgres

from .conftest import AZURE, BASE_URL, FILES, FILES_VS_AZURE, SECRET, limits_for_test, running

Request = Callable[[], Awaitable[httpx.Response]]


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[StoppablePostgres]:
    """A PostgreSQL for this test alone: the suite's shared one is never stopped."""
    server = await asyncio.to_thread(StoppablePostgres, tmp_path / "pgdata")
    try:
        await migrate(server.dsn)
        yield server
    finally:
        await asyncio.to_thread(server.close)


@pytest.fixture
async def outage_app(
    own_postgres: StoppablePostgres, redis_url: str, clock: Clock
) -> AsyncIterator[Litestar]:
    settings = Settings(
        database_url=own_postgres.dsn, redis_url=redis_url, secret_key=SECRET, public_url=BASE_URL
    )
    app = create_app(settings, limits=limits_for_test(), clock=clock)
    async with running(app):
        await import_catalog(app.state.pool, load_catalog(DEMO_CATALOG))
        yield app


def requests_of(api: httpx.AsyncClient, web: httpx.AsyncClient) -> dict[str, Request]:
    """One of each kind: pages, a form post, API reads and every API write."""
    votes = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes"
    form = {"_csrf_token": web.cookies["csrftoken"], "verdict": "ship"}
    return {
        "page /": lambda: web.get("/"),
        "page /compare": lambda: web.get(f"/compare/{FILES_VS_AZURE}"),
        "page /bookmarks": lambda: web.get("/bookmarks"),
        "form vote": lambda: web.post(f"/compare/{FILES_VS_AZURE}/votes/{AZURE}", data=form),
        "api list": lambda: api.get("/api/v1/comparisons"),
        "api detail": lambda: api.get(f"/api/v1/comparisons/{FILES_VS_AZURE}"),
        "api vote": lambda: api.put(f"{votes}/{FILES}", json={"verdict": "skip"}),
        "api bookmark": lambda: api.put(f"/api/v1/bookmarks/{FILES}"),
        "api subscribe": lambda: api.post("/api/v1/subscriptions", json={"email": "a@example.com"}),
    }


def is_page(name: str) -> bool:
    return name.startswith(("page", "form"))


async def test_postgres_stopped_then_started_503_then_served_again(
    outage_app: Litestar, own_postgres: StoppablePostgres
) -> None:
    async with (
        asgi_client(outage_app, base_url=BASE_URL) as api,
        asgi_client(outage_app, base_url=BASE_URL) as web,
    ):
        (await web.get("/")).raise_for_status()
        (await api.get("/api/v1/comparisons")).raise_for_status()
        api.headers["X-CSRFToken"] = api.cookies["csrftoken"]
        requests = requests_of(api, web)
        for name, send in requests.items():
            assert (await send()).status_code in (200, 202, 303), name

        await asyncio.to_thread(own_postgres.stop)
        answers: list[tuple[str, httpx.Response]] = []
        for _ in range(3):
            answers += [(name, await send()) for name, send in requests.items()]
        health = await api.get("/healthz")

        await asyncio.to_thread(own_postgres.start)
        # The pool replaces the connections the shutdown closed as they are checked out:
        # a bounded number of requests may still meet one.
        recovered = None
        for attempt in range(20):
            if (await api.get("/api/v1/comparisons")).status_code == 200:
                recovered = attempt
                break
        after = [(name, await send()) for name, send in requests.items()]

        # A restart with no request during it: the pool holds connections the server
        # closed. Each may cost one 503, never a 500, and then all is served again.
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.to_thread(own_postgres.start)
        restarted = [(name, await send()) for _ in range(3) for name, send in requests.items()]

    assert len(answers) == 27
    statuses = [r.status_code for _, r in answers]
    assert statuses == [503] * 27, [(n, r.status_code, r.text[:200]) for n, r in answers]
    for name, r in answers:
        assert int(r.headers["retry-after"]) > 0, name
        if is_page(name):
            assert r.headers["content-type"].startswith("text/html"), name
            assert "<h1>Back in a moment</h1>" in r.text, name
        else:
            assert r.headers["content-type"] == "application/problem+json", name
            assert r.json()["type"] == "/problems/database-unavailable", name
        assert "Traceback" not in r.text
    assert health.status_code == 503 and health.json()["database"].startswith("down")

    assert recovered is not None, "the pool did not recover within 20 requests"
    assert [(n, r.status_code) for n, r in after] == [
        (n, 303 if n == "form vote" else 202 if n == "api subscribe" else 200) for n in requests
    ]
    # The reader is the same one before and after: its vote from before stands.
    assert dict(after)["api detail"].json()["reader"]["votes"] == {FILES: "skip"}
    refused = [n for n, r in restarted if r.status_code == 503]
    assert all(r.status_code in (200, 202, 303, 503) for _, r in restarted), restarted
    assert len(refused) <= 10, refused  # at most one per pooled connection (DB_POOL_SIZE)
    assert [r.status_code for _, r in restarted[-len(requests) :]] == [
        r.status_code for _, r in after
    ]
