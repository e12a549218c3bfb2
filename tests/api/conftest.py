"""The app on the test's own event loop (lifespan + ``httpx.ASGITransport``), with the
demo catalog imported into a fresh database."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.api.security import Limits
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from tests.asgi import asgi_client
from tests.fixtures import catalog, settings, sink

__all__ = ["catalog", "settings", "sink"]

SECRET = "test-secret-key-of-at-least-32-bytes"
BASE_URL = "http://testserver.local"


def limits_for_test(**changes: object) -> Limits:
    """Limits in a namespace of their own, so no two tests share rate-limit counters."""
    base: dict[str, object] = {"namespace": f"test:{uuid.uuid4().hex}"}
    return Limits(**(base | changes))  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Run the app's lifespan in a task of its own: pytest-asyncio sets a fixture up and
    tears it down in different tasks, and Litestar's lifespan must exit where it entered."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture
def limits() -> Limits:
    return limits_for_test()


@pytest.fixture
async def app(dsn: str, redis_url: str, limits: Limits, clock: Clock) -> AsyncIterator[Litestar]:
    settings = Settings(
        database_url=dsn, redis_url=redis_url, secret_key=SECRET, public_url=BASE_URL
    )
    app = create_app(settings, limits=limits, clock=clock)
    async with running(app):
        await import_catalog(app.state.pool, load_catalog(DEMO_CATALOG))
        yield app


@pytest.fixture
def app_pool(app: Litestar) -> Pool:
    pool: Pool = app.state.pool
    return pool


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A JSON API reader: has visited once (reader and CSRF cookies), sends X-CSRFToken."""
    async with asgi_client(app, base_url=BASE_URL) as c:
        (await c.get("/api/v1/comparisons")).raise_for_status()
        c.headers["X-CSRFToken"] = c.cookies["csrftoken"]
        yield c


@pytest.fixture
async def browser(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """A web reader: has visited the home page; posts forms with the ``_csrf_token`` field."""
    async with asgi_client(app, base_url=BASE_URL) as c:
        (await c.get("/")).raise_for_status()
        yield c


FILES_VS_AZURE = "claude-files-api-vs-azure-ai-foundry-voice-router"
FILES, AZURE = "claude-files-api", "azure-ai-foundry-voice-router"


async def event_count(pool: Pool) -> int:
    """How many events the log holds: error paths must leave it as it was."""
    n: int = await pool.fetchval("select count(*) from events")
    return n


async def post_form(
    client: httpx.AsyncClient, url: str, data: dict[str, str], *, csrf: bool = True
) -> httpx.Response:
    """Submit a form the way a browser does: urlencoded, the CSRF token as a field."""
    fields = {"_csrf_token": client.cookies["csrftoken"], **data} if csrf else data
    return await client.post(url, data=fields)
