"""Sending an issued digest: bounces recorded (the third unsubscribes), transient
refusals retried then given up, an unsubscribe mid-send honoured, and a ledger that
replay rebuilds."""

from __future__ import annotations

import asyncio

import pytest

from services.core import digest_issues
from services.core.config import Settings
from services.core.db import connect
from services.core.replay import replay
from services.core.store import Pool
from services.core.subscriptions import unsubscribe
from services.core.weeks import IsoWeek

from .conftest import WEEK, Sink, assert_once_each, confirmed, outcome, send_all

pytestmark = pytest.mark.calendar

FILES_VS_AZURE = "claude-files-api-vs-azure-ai-foundry-voice-router"


async def test_permanent_bounces_are_recorded_and_the_third_unsubscribes(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    people = await confirmed(pool, 3)
    bouncer = people["reader0@example.com"]
    sink.refuse["reader0@example.com"] = "550 5.1.1 no such mailbox"
    for week in ("2026-W45", "2026-W46", "2026-W47"):
        await digest_issues.issue(pool, settings, IsoWeek.parse(week))
        await send_all(pool, settings, week)
    log = await pool.fetch(
        "select type, data from events where stream_id = $1 order by stream_version",
        f"subscriber-{bouncer}",
    )
    types = [r[0] for r in log]
    assert types[-4:] == ["DigestBounced"] * 3 + ["Unsubscribed"]
    assert '"reason": "bounce"' in log[-1][1]
    status = await pool.fetchrow(
        "select status, bounces from subscribers where subscriber_id = $1", bouncer
    )
    assert status is not None and tuple(status) == ("unsubscribed", 3)
    ledger = await pool.fetch(
        "select status, code from digest_deliveries where subscriber_id = $1", bouncer
    )
    assert [tuple(r) for r in ledger] == [("bounced", 550)] * 3
    assert len(sink.to("reader1@example.com")) == 3 and not sink.to("reader0@example.com")


async def test_transient_refusals_retry_with_backoff_then_give_up(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    settings = settings.with_(mail_max_attempts=3)
    people = await confirmed(pool, 3)
    sink.defer["reader0@example.com"] = 2  # greylisted twice, then accepted
    sink.defer["reader1@example.com"] = 99  # never accepted
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    await send_all(pool, settings)
    rows = {
        r[0]: tuple(r[1:])
        for r in await pool.fetch(
            "select subscriber_id::text, state, attempts, code from digest_recipients"
        )
    }
    assert rows[people["reader0@example.com"]] == ("sent", 2, None)
    assert rows[people["reader1@example.com"]] == ("failed", 2, 451)
    assert len(sink.to("reader0@example.com")) == 1 and not sink.to("reader1@example.com")
    assert (
        await pool.fetchval(
            "select status from subscribers where subscriber_id = $1", people["reader1@example.com"]
        )
        == "confirmed"
    ), "a transient failure is not a bounce"
    assert (
        await pool.fetchval("select data ->> 'permanent' from events where type = 'DigestBounced'")
        == "false"
    )


async def test_one_click_unsubscribe_mid_send_stops_that_mail(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    settings = settings.with_(smtp_connections=1, mail_batch_size=10)
    people = await confirmed(pool, 100)
    sink.delay = 0.01
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    sending = asyncio.create_task(send_all(pool, settings))
    await asyncio.to_thread(sink.wait_for, 20)
    queued = await pool.fetch(
        "select subscriber_id::text, state from digest_recipients"
        " where state in ('claimed', 'pending') order by id desc"
    )
    # The last row of the batch in flight (already claimed), and a few not yet claimed.
    claimed = [r[0] for r in queued if r[1] == "claimed"][:1]
    stopped = claimed + [r[0] for r in queued if r[1] == "pending"][:5]
    for sid in stopped:
        await unsubscribe(pool, sid, "one-click")
    await sending

    result = await outcome(pool, sink)
    by_id = {sid: address for address, sid in people.items()}
    for sid in stopped:
        assert result.pop(by_id[sid]) == ("skipped", 0, 0)
    assert_once_each(result)


async def test_the_ledger_is_a_projection_replay_rebuilds(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, dsn: str
) -> None:
    await confirmed(pool, 20)
    sink.refuse["reader3@example.com"] = "554 rejected"
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    await send_all(pool, settings)
    query = "select * from digest_deliveries order by subscriber_id"
    before = [tuple(r) for r in await pool.fetch(query)]
    assert len(before) == 20
    conn = await connect(dsn)
    try:
        await replay(conn, ["deliveries"])
    finally:
        await conn.close()
    assert [tuple(r) for r in await pool.fetch(query)] == before
