"""The JSON API: comparisons, tallies (now and as of), votes, bookmarks, subscriptions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from litestar import Litestar

from services.core.store import Pool
from tests.asgi import asgi_client
from tests.conftest import NOW

from .conftest import AZURE, BASE_URL, FILES, FILES_VS_AZURE, event_count

VOTES = f"/api/v1/comparisons/{FILES_VS_AZURE}/votes"


async def test_lists_comparisons_newest_first_with_panel_and_community(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/api/v1/comparisons")).json()
    published = [c["published_at"] for c in body["comparisons"]]
    assert len(published) == 5 and published == sorted(published, reverse=True)
    files = next(c for c in body["comparisons"] if c["slug"] == FILES_VS_AZURE)
    assert [s["tool"] for s in files["sides"]] == [FILES, AZURE]
    side = files["sides"][0]
    assert (side["panel_verdict"], side["panel_ship"], side["panel_skip"]) == ("ship", 4, 0)
    assert side["community"] == {"ship": 0, "skip": 0, "ship_pct": None}


@pytest.mark.calendar
async def test_detail_shows_tools_panel_community_and_the_callers_standing(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})
    await client.put(f"/api/v1/bookmarks/{AZURE}")
    body = (await client.get(f"/api/v1/comparisons/{FILES_VS_AZURE}")).json()
    files, azure = body["comparison"]["sides"]
    assert files["tool"]["name"] == "Claude Files API"
    assert files["tool"]["pricing_entry"] == "Paid" and files["pricing_read"]
    assert [r["reviewer"] for r in files["panel"]["reviews"]] == [
        "builder", "skeptic", "founder", "futurist"
    ]  # fmt: skip
    assert files["community"] == {"ship": 1, "skip": 0, "ship_pct": 100}
    assert azure["community"]["ship_pct"] is None
    assert body["reader"] == {"votes": {FILES: "ship"}, "bookmarked": [AZURE]}
    # The log dates a vote by the database's clock.
    voted = await app_pool.fetchval("select max(recorded_at) from events where type = 'VoteCast'")
    # The history ends on the app's today: a vote the database dated later counts on it.
    today = min(voted.date(), NOW.date()).isoformat()
    history = {h["tool"]: h["points"] for h in body["history"]}
    assert history[FILES] == [{"day": today, "ship": 1, "skip": 0, "ship_pct": 100}]
    assert history[AZURE] == []


async def test_vote_change_and_withdraw(client: httpx.AsyncClient) -> None:
    r = await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})
    assert r.status_code == 200
    assert r.json() == {
        "comparison": FILES_VS_AZURE,
        "tool": FILES,
        "verdict": "ship",
        "tally": {"ship": 1, "skip": 0, "ship_pct": 100},
    }
    r = await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"})
    assert r.json()["tally"] == {"ship": 0, "skip": 1, "ship_pct": 0}
    r = await client.delete(f"{VOTES}/{FILES}")
    assert r.status_code == 200
    assert r.json()["verdict"] is None
    assert r.json()["tally"] == {"ship": 0, "skip": 0, "ship_pct": None}


async def test_readers_are_told_apart_by_their_cookie(
    app: Litestar, client: httpx.AsyncClient
) -> None:
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})
    async with asgi_client(app, base_url=BASE_URL) as other:
        await other.get("/")
        other.headers["X-CSRFToken"] = other.cookies["csrftoken"]
        r = await other.put(f"{VOTES}/{FILES}", json={"verdict": "skip"})
        assert r.json()["tally"] == {"ship": 1, "skip": 1, "ship_pct": 50}
        detail = (await other.get(f"/api/v1/comparisons/{FILES_VS_AZURE}")).json()
        assert detail["reader"]["votes"] == {FILES: "skip"}


async def test_first_visit_sets_a_signed_httponly_lax_reader_cookie(app: Litestar) -> None:
    async with asgi_client(app, base_url=BASE_URL) as c:
        r = await c.get("/api/v1/comparisons")
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("reader="))
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        r = await c.get("/api/v1/comparisons")
        assert not any(v.startswith("reader=") for v in r.headers.get_list("set-cookie"))


async def test_idempotency_key_makes_a_retry_append_nothing(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    key = {"Idempotency-Key": "vote-1"}
    first = await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)
    before = await event_count(app_pool)
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"})
    after_change = await event_count(app_pool)
    retry = await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"}, headers=key)
    assert retry.status_code == first.status_code == 200
    assert after_change == before + 1
    assert await event_count(app_pool) == after_change  # the retry appended nothing
    sub = {"Idempotency-Key": "sub-1"}
    for _ in range(2):
        r = await client.post("/api/v1/subscriptions", json={"email": "a@example.com"}, headers=sub)
        assert r.status_code == 202
    assert await event_count(app_pool) == after_change + 1


@pytest.mark.calendar
async def test_tally_as_of_a_past_time(client: httpx.AsyncClient) -> None:
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "ship"})
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await client.put(f"{VOTES}/{FILES}", json={"verdict": "skip"})
    await client.put(f"{VOTES}/{AZURE}", json={"verdict": "ship"})
    url = f"/api/v1/comparisons/{FILES_VS_AZURE}/tally"
    then = (await client.get(url, params={"as_of": between.isoformat()})).json()
    assert then["tallies"] == {
        FILES: {"ship": 1, "skip": 0, "ship_pct": 100},
        AZURE: {"ship": 0, "skip": 0, "ship_pct": None},
    }
    now = (await client.get(url)).json()
    assert now["as_of"] is None
    assert now["tallies"][FILES] == {"ship": 0, "skip": 1, "ship_pct": 0}
    assert now["tallies"][AZURE] == {"ship": 1, "skip": 0, "ship_pct": 100}

    naive = await client.get(url, params={"as_of": "2026-11-20T12:00:00"})
    assert naive.status_code == 400
    assert naive.json()["type"] == "/problems/invalid-request"
    assert "time zone" in naive.json()["detail"]


async def test_bookmarks(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/bookmarks")).json() == {"tools": []}
    await client.put(f"/api/v1/bookmarks/{AZURE}")
    r = await client.put(f"/api/v1/bookmarks/{FILES}")
    assert [t["slug"] for t in r.json()["tools"]] == [AZURE, FILES]
    assert r.json()["tools"][1]["name"] == "Claude Files API"
    await client.put(f"/api/v1/bookmarks/{FILES}")  # again: no change
    r = await client.delete(f"/api/v1/bookmarks/{AZURE}")
    assert [t["slug"] for t in r.json()["tools"]] == [FILES]
    assert [t["slug"] for t in (await client.get("/api/v1/bookmarks")).json()["tools"]] == [FILES]


async def test_subscribing_answers_the_same_for_new_and_known_addresses(
    client: httpx.AsyncClient, app_pool: Pool
) -> None:
    answers = []
    for email in ("new@example.com", "New@Example.com", "other@example.com"):
        r = await client.post("/api/v1/subscriptions", json={"email": email})
        answers.append((r.status_code, r.content))
    assert len(set(answers)) == 1 and answers[0][0] == 202
    types = [r[0] for r in await app_pool.fetch("select type from events order by position")]
    assert types[-3:] == ["SubscriptionRequested"] * 3
    assert await app_pool.fetchval("select count(*) from subscriber_emails") == 2


async def test_openapi_describes_the_bodies_exactly(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/api/v1/schema/openapi.json")).json()
    assert set(doc["paths"]) == {
        "/api/v1/comparisons",
        "/api/v1/comparisons/{slug}",
        "/api/v1/comparisons/{slug}/tally",
        "/api/v1/comparisons/{slug}/votes/{tool}",
        "/api/v1/bookmarks",
        "/api/v1/bookmarks/{tool}",
        "/api/v1/subscriptions",
    }
    schemas = doc["components"]["schemas"]
    vote = schemas["VoteRequest"]
    assert vote["required"] == ["verdict"]
    assert vote["properties"]["verdict"]["enum"] == ["ship", "skip"]
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status"}
    put = doc["paths"]["/api/v1/comparisons/{slug}/votes/{tool}"]["put"]
    assert {"403", "404", "413", "422", "429"} <= set(put["responses"])
    assert "application/problem+json" in put["responses"]["404"]["content"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in put["parameters"])
