"""Per-client rate limits on votes and subscriptions (ours, counted in Redis)."""

from __future__ import annotations

import httpx
import pytest

from services.api.security import Limits
from services.core.store import Pool

from .conftest import FILES, FILES_VS_AZURE, event_count, limits_for_test, post_form

VOTE_LIMIT, SUBSCRIBE_LIMIT = 4, 2


@pytest.fixture
def limits() -> Limits:
    return limits_for_test(votes=("minute", VOTE_LIMIT), subscriptions=("minute", SUBSCRIBE_LIMIT))


async def test_votes_over_the_limit_get_429_and_append_nothing(
    client: httpx.AsyncClient, browser: httpx.AsyncClient, app_pool: Pool
) -> None:
    url = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes/{FILES}"
    for i in range(VOTE_LIMIT):
        r = await client.put(url, json={"verdict": "ship" if i % 2 else "skip"})
        assert r.status_code == 200
    before = await event_count(app_pool)
    r = await client.put(url, json={"verdict": "skip"})
    assert r.status_code == 429
    assert r.json()["type"] == "/problems/rate-limited"
    assert int(r.headers["retry-after"]) > 0
    # The form posts of the same client share the limit; the page says so.
    r = await post_form(browser, f"/compare/{FILES_VS_AZURE}/votes/{FILES}", {"verdict": "ship"})
    assert r.status_code == 429 and "<h1>Too many requests</h1>" in r.text
    assert await event_count(app_pool) == before


async def test_subscriptions_have_their_own_limit(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    for _ in range(10):  # page views and votes never use up the subscription limit
        await client.get("/")
    await client.put(
        f"/api/v1/comparisons/{FILES_VS_AZURE}/votes/{FILES}", json={"verdict": "ship"}
    )
    for i in range(SUBSCRIBE_LIMIT):
        r = await client.post("/api/v1/subscriptions", json={"email": f"r{i}@example.com"})
        assert r.status_code == 202
    before = await event_count(app_pool)
    r = await client.post("/api/v1/subscriptions", json={"email": "flood@example.com"})
    assert r.status_code == 429 and r.json()["type"] == "/problems/rate-limited"
    assert await event_count(app_pool) == before
