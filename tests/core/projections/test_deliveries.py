"""The digest delivery ledger: per (week, subscriber), delivered or bounced. Inline,
replayed and caught-up tables agree for any log; and the fold's rules one by one."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.events import DigestBounced, DigestDelivered, Event, SubscriptionConfirmed
from services.core.projections.base import LIVE_TABLES, project
from services.core.projections.deliveries import DELIVERIES
from services.core.store import Connection, Pool, Recorded
from services.core.streams import SUBSCRIBER
from tests.core.projections.both_paths import Log, all_paths, assert_same_tables, batches

IDS = [str(uuid.UUID(int=i + 1)) for i in range(2)]
WEEKS = ("2026-W46", "2026-W47")

weeks = st.sampled_from(WEEKS)
delivery_events: st.SearchStrategy[Event] = st.one_of(
    st.builds(DigestDelivered, week=weeks, message_id=st.sampled_from(["<1@v>", "<2@v>"])),
    st.builds(
        DigestBounced,
        week=weeks,
        code=st.sampled_from([421, 451, 550, 554]),
        permanent=st.booleans(),
    ),
    # Not the ledger's: ``project`` must pass it by.
    st.just(SubscriptionConfirmed()),
)
entries = st.lists(
    st.tuples(st.sampled_from(IDS).map(SUBSCRIBER.name), delivery_events),
    min_size=8,
    max_size=30,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=entries,
    minutes=st.lists(st.integers(1, 600), min_size=1, max_size=5),
    cut=st.lists(st.integers(1, 8), min_size=1, max_size=6),
    replayed=st.integers(0, 6),
)
async def test_inline_equals_replay(
    pool: Pool,
    events: list[tuple[str, Event]],
    minutes: list[int],
    cut: list[int],
    replayed: int,
) -> None:
    """Any log of deliveries and bounces, projected inline in batches, replayed, or
    replayed in part and caught up: the same ledger."""
    log = Log()
    for i, (stream, event) in enumerate(events):
        log.add(stream, event, timedelta(minutes=minutes[i % len(minutes)]))
    async with pool.acquire() as conn:
        await all_paths(conn, DELIVERIES, log.records, batches(log.records, cut), replayed)
        await assert_same_tables(conn, DELIVERIES.tables)


# --- the fold's rules -----------------------------------------------------------------

Row = tuple[object, ...]


async def after(conn: Connection, rec: Recorded, week: str = "2026-W47") -> Row | None:
    """Project ``rec`` as one append; the row of (``week``, its subscriber) then."""
    async with conn.transaction():
        await project(conn, [DELIVERIES], LIVE_TABLES, [rec])
    row = await conn.fetchrow(
        "select status, deliveries, bounces, message_id, code, updated_at"
        " from digest_deliveries where week = $1 and subscriber_id = $2::uuid",
        week,
        SUBSCRIBER.key(rec.stream_id),
    )
    return None if row is None else tuple(row)


def row(
    status: str, deliveries: int, bounces: int, mid: str | None, code: int | None, at: datetime
) -> Row:
    return (status, deliveries, bounces, mid, code, at)


async def test_delivered_then_bounced_stays_delivered_and_duplicates_count(pool: Pool) -> None:
    log = Log()
    me = SUBSCRIBER.name(IDS[0])
    async with pool.acquire() as conn:
        sent = log.add(me, DigestDelivered(week="2026-W47", message_id="<1@v>"))
        assert await after(conn, sent) == row("delivered", 1, 0, "<1@v>", None, sent.recorded_at)
        # A late bounce of a delivered digest is recorded, but it was delivered.
        late = log.add(me, DigestBounced(week="2026-W47", code=550, permanent=True))
        assert await after(conn, late) == row("delivered", 1, 1, "<1@v>", 550, late.recorded_at)
        # A second delivery is a duplicate: the ledger counts it.
        dup = log.add(me, DigestDelivered(week="2026-W47", message_id="<2@v>"))
        assert await after(conn, dup) == row("delivered", 2, 1, "<2@v>", 550, dup.recorded_at)
        # Another week is another row.
        other = log.add(me, DigestDelivered(week="2026-W46", message_id="<0@v>"))
        assert await after(conn, other, "2026-W46") == row(
            "delivered", 1, 0, "<0@v>", None, other.recorded_at
        )
        assert await conn.fetchval("select count(*) from digest_deliveries") == 2


async def test_bounces_before_any_delivery(pool: Pool) -> None:
    log = Log()
    me = SUBSCRIBER.name(IDS[1])
    async with pool.acquire() as conn:
        soft = log.add(me, DigestBounced(week="2026-W47", code=451, permanent=False))
        assert await after(conn, soft) == row("failed", 0, 0, None, 451, soft.recorded_at)
        hard = log.add(me, DigestBounced(week="2026-W47", code=550, permanent=True))
        assert await after(conn, hard) == row("bounced", 0, 1, None, 550, hard.recorded_at)
        # Delivered after all (a retry that went through): a delivery wins.
        sent = log.add(me, DigestDelivered(week="2026-W47", message_id="<1@v>"))
        assert await after(conn, sent) == row("delivered", 1, 1, "<1@v>", 550, sent.recorded_at)
        # Another subscriber's ledger is untouched by all of it.
        assert (
            await conn.fetchval(
                "select count(*) from digest_deliveries where subscriber_id = $1::uuid", IDS[0]
            )
            == 0
        )
