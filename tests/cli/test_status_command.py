"""`verdicts status`: the log, the projections and what lag means for each, pending
confirmations, the last digest, the oldest open writer, as a real process sees them."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.core import digest_issues, subscriptions
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.fixtures import WEEK, confirmed

from .test_digest_commands import run

pytestmark = pytest.mark.calendar


async def test_status_says_where_everything_stands(
    pool: Pool, settings: Settings, catalog: None
) -> None:
    await confirmed(pool, 2)
    await subscriptions.request_subscription(pool, "waiting@example.com")
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    async with pool.acquire() as writer, writer.transaction():
        # An open transaction that has written holds tailing readers back: status shows
        # it, and the event appended after it began as not yet visible to them.
        await writer.execute("select pg_current_xact_id()")
        await subscriptions.request_subscription(pool, "late@example.com")
        result = await asyncio.to_thread(run, settings, "status", "--json")
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    events = await pool.fetchval("select count(*) from events")
    assert s["events"] == events and s["head_position"] == events
    assert s["unsettled_events"] == 1 and s["oldest_open_writer_seconds"] > 0
    projections = {p["name"]: p for p in s["projections"]}
    assert set(projections) == {
        "catalog",
        "community",
        "subscribers",
        "deliveries",
        "confirmation-outbox",
    }
    assert projections["catalog"]["position"] == events and projections["catalog"]["behind"] == 0
    outbox = projections["confirmation-outbox"]
    assert (outbox["position"], outbox["behind"]) == (0, events)
    assert "4 subscription request(s) not yet filed" in outbox["note"]
    assert s["pending_subscribers"] == 2 and s["confirmation_mails"] == {}
    (digest,) = s["digests"]
    assert digest["week"] == WEEK and digest["states"] == {"pending": 2}

    table = run(settings, "status")
    assert table.returncode == 0, table.stderr
    assert f"log: {events} events" in table.stdout and "oldest open writer: none" in table.stdout
    assert f"digest {WEEK}: issued" in table.stdout and "2 pending" in table.stdout
    assert "confirmation-outbox" in table.stdout
