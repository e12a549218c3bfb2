"""``/metrics`` after real actions: the counters move by what was done, the gauges
say what the database says, and the request id is the same in the response header,
the events' metadata and the log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from tests.asgi import asgi_client
from tests.metrics_text import Samples, delta, labelled, samples, value

from .conftest import AZURE, BASE_URL, FILES, FILES_VS_AZURE, SECRET, limits_for_test, running

TOKEN = "metrics-operator-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VOTE_ROUTE = "/api/v1/comparisons/{slug}/votes/{tool}"


@pytest.fixture
async def op_app(dsn: str, redis_url: str, clock: Clock) -> AsyncIterator[Litestar]:
    settings = Settings(
        database_url=dsn,
        redis_url=redis_url,
        secret_key=SECRET,
        public_url=BASE_URL,
        operator_token=TOKEN,
    )
    app = create_app(settings, limits=limits_for_test(subscriptions=("hour", 1)), clock=clock)
    async with running(app):
        await import_catalog(app.state.pool, load_catalog(DEMO_CATALOG))
        yield app


@pytest.fixture
async def reader(op_app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(op_app, base_url=BASE_URL) as c:
        (await c.get("/api/v1/comparisons")).raise_for_status()
        c.headers["X-CSRFToken"] = c.cookies["csrftoken"]
        yield c


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_metrics_need_the_operator_token(reader: httpx.AsyncClient) -> None:
    assert (await reader.get("/metrics")).status_code == 401
    wrong = await reader.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "verdicts_" not in wrong.text


async def test_counters_move_by_what_was_done(reader: httpx.AsyncClient, op_app: Litestar) -> None:
    pool: Pool = op_app.state.pool
    before = await scrape(reader)
    votes = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes"
    for tool, verdict in ((FILES, "ship"), (FILES, "skip"), (AZURE, "ship")):
        response = await reader.put(f"{votes}/{tool}", json={"verdict": verdict})
        assert response.status_code == 200, response.text
    first = await reader.post("/api/v1/subscriptions", json={"email": "m1@example.com"})
    refused = await reader.post("/api/v1/subscriptions", json={"email": "m2@example.com"})
    assert (first.status_code, refused.status_code) == (202, 429)
    after = await scrape(reader)

    requests = "verdicts_http_requests_total"
    assert delta(before, after, requests, method="PUT", route=VOTE_ROUTE, status="200") == 3
    subscriptions = {"method": "POST", "route": "/api/v1/subscriptions"}
    assert delta(before, after, requests, status="202", **subscriptions) == 1
    assert delta(before, after, requests, status="429", **subscriptions) == 1
    assert delta(before, after, "verdicts_rate_limit_refusals_total", limit="subscriptions") == 1

    appended = "verdicts_events_appended_total"
    assert delta(before, after, appended, type="VoteCast") == 3
    assert delta(before, after, appended, type="SubscriptionRequested") == 1
    latency = "verdicts_append_duration_seconds_count"
    assert delta(before, after, latency, path="group") == 3  # votes: group commit
    assert delta(before, after, latency, path="single") == 1  # the subscription
    assert delta(before, after, "verdicts_group_commit_requests_sum") == 3
    assert 1 <= delta(before, after, "verdicts_group_commit_requests_count") <= 3

    # Read from the database at scrape time.
    head = await pool.fetchval("select max(position) from events")
    events = await pool.fetchval("select count(*) from events")
    assert value(after, "verdicts_database_up") == 1
    assert value(after, "verdicts_log_head_position") == head
    # No ingest has run: the outbox is behind by the whole log, one request unfiled.
    outbox = "verdicts_projection_lag_events"
    assert value(after, outbox, projection="confirmation-outbox") == events
    assert value(after, outbox, projection="community") == 0
    assert value(after, "verdicts_subscribers_pending") == 1


async def test_the_request_id_is_echoed_stored_and_logged(
    reader: httpx.AsyncClient, op_app: Litestar, caplog: pytest.LogCaptureFixture
) -> None:
    pool: Pool = op_app.state.pool
    url = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes/{FILES}"
    with caplog.at_level(logging.INFO, logger="services.api.requests"):
        given = await reader.put(url, json={"verdict": "ship"}, headers={"X-Request-ID": "rq-1"})
        fresh = await reader.put(url, json={"verdict": "skip"})
        insane = await reader.put(url, json={"verdict": "ship"}, headers={"X-Request-ID": "a b"})
    assert given.headers["x-request-id"] == "rq-1"
    minted = fresh.headers["x-request-id"]
    assert uuid.UUID(minted) and insane.headers["x-request-id"] not in ("a b", minted)
    stored = [
        r[0]
        for r in await pool.fetch(
            "select metadata ->> 'request_id' from events where type = 'VoteCast' order by position"
        )
    ]
    assert stored == ["rq-1", minted, insane.headers["x-request-id"]]
    logged = [r.__dict__.get("request_id") for r in caplog.records if r.getMessage() == "request"]
    assert logged == stored


async def test_unrouted_and_refused_requests_are_counted_and_carry_an_id(
    reader: httpx.AsyncClient,
) -> None:
    before = await scrape(reader)
    missing = await reader.get("/no/such/page", headers={"X-Request-ID": "lost-1"})
    no_csrf = await reader.put(
        f"/api/v1/comparisons/{FILES_VS_AZURE}/votes/{FILES}",
        json={"verdict": "ship"},
        headers={"X-CSRFToken": "forged"},
    )
    after = await scrape(reader)
    assert (missing.status_code, missing.headers["x-request-id"]) == (404, "lost-1")
    assert no_csrf.status_code == 403 and no_csrf.headers["x-request-id"]
    requests = "verdicts_http_requests_total"
    assert delta(before, after, requests, method="GET", route="unrouted", status="404") == 1
    assert delta(before, after, requests, method="PUT", route=VOTE_ROUTE, status="403") == 1
    # The scrape before this one counted itself: probes and scrapes are requests too.
    scrapes = labelled(after, requests)
    assert any(("route", "/metrics") in labels for labels in scrapes)


async def test_livez_and_readyz(reader: httpx.AsyncClient, op_app: Litestar) -> None:
    assert (await reader.get("/livez")).json() == {"status": "live"}
    ready = await reader.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["ok"] and body["migrations"] == "current" and body["redis"] == "ok"
    assert "set-cookie" not in ready.headers  # probes get no reader cookie

    pool: Pool = op_app.state.pool
    await pool.execute("delete from schema_migrations where name = '0007_digest_control.sql'")
    pending = await reader.get("/readyz")
    assert pending.status_code == 503
    assert pending.json()["pending_migrations"] == ["0007_digest_control.sql"]
    await pool.execute("update schema_migrations set checksum = 'edited'")
    changed = (await reader.get("/readyz")).json()
    assert changed["migrations"].startswith("changed since applied") and not changed["ok"]

    await pool.close()  # the database is gone for this process: not ready, still live
    gone = await reader.get("/readyz")
    assert gone.status_code == 503 and gone.json()["database"].startswith("down")
    assert (await reader.get("/livez")).status_code == 200
    scraped = samples((await reader.get("/metrics", headers=AUTH)).text)
    assert value(scraped, "verdicts_database_up") == 0
