"""Redis stopped under a running app: votes, bookmarks and subscriptions go on (limits
count in the process meanwhile, and still hold), ``/healthz`` says degraded, the log says
so once; once Redis is back the limits count in Redis again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from services.api.app import create_app
from services.api.security import Limits
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from tests.asgi import asgi_client
from tests.metrics_text import samples, value
from tests.outages import StoppableRedis

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

VOTE_LIMIT = 6
TOKEN = "outage-operator-token"
FALLBACK_HITS = "verdicts_rate_limit_fallback_hits_total"
VOTES = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[StoppableRedis]:
    """A Redis for this test alone: the suite's shared one is never stopped."""
    yield from StoppableRedis.running(tmp_path / "redis")


@pytest.fixture
def limits() -> Limits:
    return limits_for_test(votes=("minute", VOTE_LIMIT), subscriptions=("minute", 100))


@pytest.fixture
async def redis_app(
    dsn: str, own_redis: StoppableRedis, limits: Limits, clock: Clock
) -> AsyncIterator[Litestar]:
    settings = Settings(
        database_url=dsn,
        redis_url=own_redis.url,
        secret_key=SECRET,
        public_url=BASE_URL,
        operator_token=TOKEN,
    )
    app = create_app(settings, limits=limits, clock=clock)
    async with running(app):
        await import_catalog(app.state.pool, load_catalog(DEMO_CATALOG))
        yield app


async def counter_keys(url: str, limits: Limits) -> int:
    redis = Redis.from_url(url)
    try:
        return len([k async for k in redis.scan_iter(f"{limits.namespace}:*")])
    finally:
        await redis.aclose()


async def fallback_hits(client: httpx.AsyncClient) -> float:
    scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    return value(samples(scraped.text), FALLBACK_HITS)


async def test_readers_act_while_redis_is_down(
    redis_app: Litestar,
    own_redis: StoppableRedis,
    limits: Limits,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool: Pool = redis_app.state.pool
    caplog.set_level(logging.WARNING, logger="services.api.fallback_counter")
    async with asgi_client(redis_app, base_url=BASE_URL) as api:
        (await api.get("/api/v1/comparisons")).raise_for_status()
        api.headers["X-CSRFToken"] = api.cookies["csrftoken"]
        assert (await api.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})).status_code == 200
        assert (await api.get("/healthz")).json()["status"] == "ok"
        assert await counter_keys(own_redis.url, limits) > 0  # counted in Redis

        fallback_before = await fallback_hits(api)
        own_redis.stop()
        before = await event_count(pool)
        # Six votes (one a form's) fit the limit in this process's own counter; the
        # seventh does not.
        form = await post_form(api, f"/compare/{FILES_VS_AZURE}/votes/{AZURE}", {"verdict": "ship"})
        votes = [
            (await api.put(f"{VOTES}/{FILES}", json={"verdict": v})).status_code
            for v in ("skip", "ship", "skip", "ship", "skip", "ship")
        ]
        bookmark = await api.put(f"/api/v1/bookmarks/{AZURE}")
        subscribe = await api.post("/api/v1/subscriptions", json={"email": "r@example.com"})
        health = await api.get("/healthz")
        appended = await event_count(pool) - before
        counted_here = await fallback_hits(api) - fallback_before

        own_redis.start()
        # The counter tries Redis again within ``FallbackHitCounter.retry_every`` (2 s):
        # a limited request after that counts there again (the restart emptied it).
        async with asyncio.timeout(15):
            while await counter_keys(own_redis.url, limits) == 0:
                r = await api.post("/api/v1/subscriptions", json={"email": "r@example.com"})
                assert r.status_code == 202
                await asyncio.sleep(0.2)
        back = await api.put(f"{VOTES}/{AZURE}", json={"verdict": "skip"})

    assert (form.status_code, votes) == (303, [200] * (VOTE_LIMIT - 1) + [429])
    assert (bookmark.status_code, subscribe.status_code) == (200, 202)
    # 6 votes, 1 bookmark, 1 subscription: nothing was lost, the 429 appended nothing.
    assert appended == VOTE_LIMIT + 2
    assert counted_here == VOTE_LIMIT + 1 + 2  # the refused vote, the bookmark, the subscription
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["redis"].startswith("down")
    assert back.status_code == 200
    said = [r.getMessage() for r in caplog.records if r.name == "services.api.fallback_counter"]
    assert len(said) == 2, said  # once down (for every limit), once back
    assert "unavailable" in said[0] and "back after" in said[1]
    assert all(r.status_code != 500 for r in (bookmark, subscribe, form, back))
