"""Pause, resume and cancel a week's digest while a real send runs against a slow
SMTP server: senders stop at their next message, nothing is lost or sent twice."""

from __future__ import annotations

import asyncio

import pytest

from services.core import digest_control, digest_issues
from services.core.config import Settings
from services.core.db import connect
from services.core.digest_control import Control, DigestNotIssuedError, DigestStoppedError
from services.core.replay import replay
from services.core.store import Pool
from services.core.weeks import IsoWeek
from services.worker.digest_delivery import WeekRun, send_week

from .conftest import CLOCK, WEEK, Sink, assert_once_each, confirmed, outcome, send_all

pytestmark = pytest.mark.calendar

PEOPLE = 40
LANES = 2


@pytest.fixture
def slow(settings: Settings, sink: Sink) -> Settings:
    """Two lanes, small batches, 50 ms a message: a send of 40 takes about a second."""
    sink.delay = 0.05
    return settings.with_(smtp_connections=LANES, mail_batch_size=5)


async def _sending(pool: Pool, settings: Settings, sink: Sink) -> asyncio.Task[WeekRun]:
    """Issue the week and start sending it; returns once some mail has arrived."""
    await confirmed(pool, PEOPLE)
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    run = asyncio.create_task(send_week(pool, settings, IsoWeek.parse(WEEK), clock=CLOCK))
    async with asyncio.timeout(30):
        while True:
            if sink.count() >= 6:
                return run
            await asyncio.sleep(0.01)


async def _states(pool: Pool) -> dict[str, int]:
    rows = await pool.fetch("select state, count(*)::int from digest_recipients group by state")
    return {r[0]: r[1] for r in rows}


async def _stream(pool: Pool) -> list[str]:
    rows = await pool.fetch(
        "select type from events where stream_id = $1 order by stream_version", f"digest-{WEEK}"
    )
    return [r[0] for r in rows]


async def test_a_paused_week_sends_nothing_until_resumed(
    pool: Pool, slow: Settings, sink: Sink, catalog: None
) -> None:
    sending = await _sending(pool, slow, sink)
    paused = await digest_control.pause(pool, IsoWeek.parse(WEEK))
    at_pause = sink.count()
    async with asyncio.timeout(10):
        run = await sending
    assert paused.outcome is Control.PAUSED
    assert run.halted and not run.complete
    stopped = sink.count()
    assert stopped - at_pause <= LANES, "each lane finishes at most the message in flight"
    assert stopped < PEOPLE
    assert await _states(pool) == {"sent": stopped, "pending": PEOPLE - stopped}

    # Later passes (the worker's ticks), and a replay, keep it held.
    conn = await connect(slow.database_url or "")
    try:
        await replay(conn, ())
    finally:
        await conn.close()
    again = await send_week(pool, slow, IsoWeek.parse(WEEK), clock=CLOCK)
    assert again.halted and again.progress.sent == 0 and sink.count() == stopped
    assert (await digest_control.pause(pool, IsoWeek.parse(WEEK))).outcome is Control.ALREADY_PAUSED

    resumed = await digest_control.resume(pool, IsoWeek.parse(WEEK))
    assert resumed.outcome is Control.RESUMED
    await send_all(pool, slow)
    result = await outcome(pool, sink)
    assert len(result) == PEOPLE
    assert_once_each(result)
    assert await _stream(pool) == [
        "DigestIssued",
        "DigestPaused",
        "DigestResumed",
        "DigestCompleted",
    ]
    not_paused = await digest_control.resume(pool, IsoWeek.parse(WEEK))
    assert not_paused.outcome is Control.NOT_PAUSED and not_paused.completed


async def test_a_cancelled_week_never_sends_the_rest_and_completes(
    pool: Pool, slow: Settings, sink: Sink, catalog: None
) -> None:
    sending = await _sending(pool, slow, sink)
    cancelled = await digest_control.cancel(pool, IsoWeek.parse(WEEK))
    async with asyncio.timeout(10):
        run = await sending
    assert cancelled.outcome is Control.CANCELLED and run.complete
    sent = sink.count()
    assert 0 < cancelled.cancelled < PEOPLE
    assert await _states(pool) == {"sent": sent, "cancelled": PEOPLE - sent}
    assert cancelled.cancelled == PEOPLE - sent

    later = await send_week(pool, slow, IsoWeek.parse(WEEK), clock=CLOCK)
    assert later.complete and later.progress.sent == 0 and sink.count() == sent
    assert await _stream(pool) == ["DigestIssued", "DigestCancelled", "DigestCompleted"]
    completed = await pool.fetchval(
        "select data from events where type = 'DigestCompleted' and stream_id = $1",
        f"digest-{WEEK}",
    )
    assert f'"sent": {sent}' in completed and f'"cancelled": {PEOPLE - sent}' in completed
    status = await _status(pool)
    assert status.cancelled_at is not None and status.completed_at is not None

    again = await digest_control.cancel(pool, IsoWeek.parse(WEEK))
    assert again.outcome is Control.ALREADY_CANCELLED
    with pytest.raises(DigestStoppedError, match="is cancelled"):
        await digest_control.pause(pool, IsoWeek.parse(WEEK))
    with pytest.raises(DigestStoppedError, match="is cancelled"):
        await digest_control.resume(pool, IsoWeek.parse(WEEK))


async def _status(pool: Pool) -> digest_issues.DigestStatus:
    async with pool.acquire() as conn:
        return await digest_issues.status(conn, IsoWeek.parse(WEEK))


async def test_only_an_issued_week_that_is_still_open_can_be_controlled(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    with pytest.raises(DigestNotIssuedError, match="has not been issued"):
        await digest_control.pause(pool, IsoWeek.parse(WEEK))
    await confirmed(pool, 2)
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    await send_all(pool, settings)
    for control in (digest_control.pause, digest_control.cancel):
        with pytest.raises(DigestStoppedError, match="is completed"):
            await control(pool, IsoWeek.parse(WEEK))
    assert await _stream(pool) == ["DigestIssued", "DigestCompleted"]
