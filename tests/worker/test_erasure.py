"""Erasure and retention: an erased subscriber's SMTP replies (which quote the address)
go with the address; subscriptions never confirmed are purged after
UNCONFIRMED_RETENTION_DAYS by a worker job; the log stays complete and replayable."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from services.core import digest_issues
from services.core import subscriptions as subs
from services.core.clock import fixed_clock
from services.core.config import Settings
from services.core.db import connect
from services.core.events import SubscriberErased
from services.core.replay import replay
from services.core.store import Pool
from services.core.streams import SUBSCRIBER
from services.core.weeks import IsoWeek
from services.core.writes import STORE
from services.worker.jobs import purge_unconfirmed

from .conftest import WEEK, Sink, run_jobs, send_all

pytestmark = pytest.mark.calendar

GONE = "gone@example.com"


async def details_quoting(pool: Pool, address: str) -> list[str]:
    rows = await pool.fetch(
        "select detail from confirmation_mails where detail like '%' || $1 || '%'"
        " union all select detail from digest_recipients where detail like '%' || $1 || '%'",
        address,
    )
    return [r[0] for r in rows]


async def test_erasure_takes_the_smtp_replies_quoting_the_address_too(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    sink.refuse[GONE] = f"550 5.1.1 <{GONE}>: no such mailbox here"
    sid = await subs.request_subscription(pool, GONE)
    await subs.request_subscription(pool, GONE)  # rides on the first: suppressed, coalesced
    await run_jobs(settings, pool, ("send_confirmations", ()))
    await subs.confirm_subscription(pool, sid)
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    await send_all(pool, settings)
    assert len(await details_quoting(pool, GONE)) == 2, "a bounce in each mail table"

    await subs.erase_subscriber(pool, sid)
    assert await details_quoting(pool, GONE) == []
    kept = await pool.fetch("select state, detail, code from confirmation_mails order by id")
    assert [tuple(r) for r in kept] == [("bounced", None, 550), ("suppressed", "coalesced", None)]
    assert await pool.fetchval("select count(*) from subscriber_emails") == 0


async def requested_at(pool: Pool, sid: str) -> datetime:
    at: datetime = await pool.fetchval(
        "select requested_at from subscribers where subscriber_id = $1::uuid", sid
    )
    return at


async def test_subscriptions_never_confirmed_are_purged_after_their_retention(
    pool: Pool, settings: Settings, dsn: str
) -> None:
    stale = await subs.request_subscription(pool, "never-clicked@example.com")
    kept = await subs.request_subscription(pool, "clicked@example.com")
    await subs.confirm_subscription(pool, kept)
    fresh = await subs.request_subscription(pool, "just-now@example.com")
    retention = timedelta(days=settings.unconfirmed_retention_days)

    def ctx(now: datetime) -> dict[str, object]:
        return {"pool": pool, "settings": settings, "clock": fixed_clock(now)}

    # The clock is read relative to the log's own times: no dependence on today.
    assert await purge_unconfirmed(ctx(await requested_at(pool, stale) + retention)) == 0
    purged = await purge_unconfirmed(ctx(await requested_at(pool, fresh) + retention))
    assert purged == 1  # `fresh` was requested at the cutoff itself: not before it
    emails = {r[0] for r in await pool.fetch("select email from subscriber_emails")}
    assert emails == {"clicked@example.com", "just-now@example.com"}

    async with pool.acquire() as conn:
        assert await subs.status_of(conn, stale) == "erased"
        events = await STORE.read_stream(conn, SUBSCRIBER.name(stale))
    assert events[-1].event == SubscriberErased(reason="unconfirmed")

    before = await pool.fetch("select * from subscribers order by subscriber_id")
    replayer = await connect(dsn)
    try:
        await replay(replayer, ["subscribers"])
    finally:
        await replayer.close()
    assert await pool.fetch("select * from subscribers order by subscriber_id") == before

    again = await subs.request_subscription(pool, "never-clicked@example.com")
    async with pool.acquire() as conn:
        assert again != stale and await subs.status_of(conn, again) == "pending"
