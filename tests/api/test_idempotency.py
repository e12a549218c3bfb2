"""An ``Idempotency-Key`` names one request: its method, path and body. A retry of it
appends nothing and answers the same; the same key with another request is a 422
``idempotency-key-reused`` that appends nothing; a key expires after a day (the
worker's cleanup job) and can then name a new request."""

from __future__ import annotations

import importlib
from datetime import timedelta

import httpx
import pytest
from litestar import Litestar

from services.core.clock import fixed_clock
from services.core.store import Pool
from services.worker.jobs import expire_idempotency_keys
from tests.asgi import asgi_client
from tests.conftest import NOW

from .conftest import AZURE, BASE_URL, FILES, FILES_VS_AZURE, event_count

VOTES = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes"


def reused(r: httpx.Response) -> bool:
    return (
        r.status_code == 422
        and r.headers["content-type"] == "application/problem+json"
        and r.json()["type"] == "/problems/idempotency-key-reused"
    )


async def test_the_same_request_again_appends_nothing_and_answers_the_same(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    key = {"Idempotency-Key": "vote-1"}
    before = await event_count(app_pool)
    first = await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)
    again = [await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)]
    again.append(await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key))
    assert first.status_code == 200 and first.json()["verdict"] == "ship"
    assert [(r.status_code, r.json()) for r in again] == [(200, first.json())] * 2
    assert await event_count(app_pool) == before + 1


async def test_the_same_key_with_another_request_is_refused_and_appends_nothing(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    key = {"Idempotency-Key": "k"}
    assert (await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)).is_success
    before = await event_count(app_pool)
    refused = {
        "another body": await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"}, headers=key),
        "another tool": await client.put(f"{VOTES}/{AZURE}", json={"verdict": "ship"}, headers=key),
        "another method": await client.delete(f"{VOTES}/{FILES}", headers=key),
        "another route": await client.put(f"/api/v1/bookmarks/{FILES}", headers=key),
        "a subscription": await client.post(
            "/api/v1/subscriptions", json={"email": "a@example.com"}, headers=key
        ),
    }
    assert {why: reused(r) for why, r in refused.items()} == dict.fromkeys(refused, True)
    assert f"PUT {VOTES}/{FILES}" in refused["another body"].json()["detail"]
    assert await event_count(app_pool) == before
    standing = (await client.get(f"/api/v1/comparisons/{FILES_VS_AZURE}")).json()["reader"]
    assert standing == {"votes": {FILES: "ship"}, "bookmarked": []}


async def test_a_subscription_key_names_one_address(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    key = {"Idempotency-Key": "sub-1"}
    before = await event_count(app_pool)
    for _ in range(2):
        r = await client.post("/api/v1/subscriptions", json={"email": "a@example.com"}, headers=key)
        assert r.status_code == 202
    other = await client.post("/api/v1/subscriptions", json={"email": "b@example.com"}, headers=key)
    assert reused(other)
    assert await event_count(app_pool) == before + 1
    assert await app_pool.fetchval("select count(*) from subscriber_emails") == 1


async def test_a_request_that_changed_nothing_spends_its_key_too(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})
    before = await event_count(app_pool)
    key = {"Idempotency-Key": "noop"}
    same = await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)
    other = await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"}, headers=key)
    assert same.status_code == 200 and reused(other)
    assert await event_count(app_pool) == before


async def test_keys_are_per_reader(app: Litestar, client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "shared-name"}
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)
    async with asgi_client(app, base_url=BASE_URL) as other:
        (await other.get("/api/v1/comparisons")).raise_for_status()
        other.headers["X-CSRFToken"] = other.cookies["csrftoken"]
        r = await other.put(f"{VOTES}/{FILES}", json={"verdict": "skip"}, headers=key)
    assert r.status_code == 200 and r.json()["verdict"] == "skip"


async def test_a_key_expires_after_a_day_and_can_name_a_new_request(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    key = {"Idempotency-Key": "daily"}
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)  # at NOW
    a_day = timedelta(hours=24)

    async def cleanup(at: timedelta) -> int:
        return await expire_idempotency_keys({"pool": app_pool, "clock": fixed_clock(NOW + at)})

    assert await cleanup(a_day - timedelta(minutes=1)) == 0
    assert reused(await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"}, headers=key))
    assert await cleanup(a_day + timedelta(minutes=1)) == 1
    before = await event_count(app_pool)
    r = await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"}, headers=key)
    assert r.status_code == 200 and r.json()["verdict"] == "skip"
    assert await event_count(app_pool) == before + 1


def test_the_worker_runs_the_cleanup_on_its_cron(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "k" * 48)  # the worker's settings refuse to load without
    worker = importlib.import_module("services.worker.settings")
    crons = {job.name for job in worker.WorkerSettings.cron_jobs}
    assert "cron:expire_idempotency_keys" in crons
