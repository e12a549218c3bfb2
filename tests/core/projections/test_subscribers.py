"""The subscribers projection: pending, confirmed, unsubscribed or erased, and the count
of permanent bounces. Inline, replayed and caught-up tables agree for any log; and the
fold's rules one by one."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.events import (
    DigestBounced,
    Event,
    SubscriberErased,
    SubscriptionConfirmed,
    SubscriptionRequested,
    Unsubscribed,
    VoteCast,
)
from services.core.projections.base import LIVE_TABLES, project
from services.core.projections.subscribers import SUBSCRIBERS
from services.core.store import Connection, Pool, Recorded
from services.core.streams import READER, SUBSCRIBER
from tests.core.projections.both_paths import Log, all_paths, assert_same_tables, batches

IDS = [str(uuid.UUID(int=i + 1)) for i in range(2)]

subscriber_events: st.SearchStrategy[Event] = st.one_of(
    st.just(SubscriptionRequested()),
    st.just(SubscriptionConfirmed()),
    st.builds(Unsubscribed, reason=st.sampled_from(["link", "one-click", "bounce", "operator"])),
    st.builds(
        DigestBounced,
        week=st.sampled_from(["2026-W46", "2026-W47"]),
        code=st.sampled_from([451, 550]),
        permanent=st.booleans(),
    ),
    st.just(SubscriberErased()),
)


def entry(who: int, event: Event) -> tuple[str, Event]:
    """An event of subscriber ``who``; one past the last: one this projection ignores."""
    if who == len(IDS):
        return READER.name(IDS[0]), VoteCast(comparison="c", tool="t", verdict="ship")
    return SUBSCRIBER.name(IDS[who]), event


entries = st.lists(
    st.builds(entry, st.integers(0, len(IDS)), subscriber_events), min_size=8, max_size=30
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
    """Any log of subscriber events, projected inline in batches, replayed, or replayed
    in part and caught up: the same rows."""
    log = Log()
    for i, (stream, event) in enumerate(events):
        log.add(stream, event, timedelta(minutes=minutes[i % len(minutes)]))
    async with pool.acquire() as conn:
        await all_paths(conn, SUBSCRIBERS, log.records, batches(log.records, cut), replayed)
        await assert_same_tables(conn, SUBSCRIBERS.tables)


# --- the fold's rules -----------------------------------------------------------------

ME = IDS[0]
Row = tuple[object, ...]


async def after(conn: Connection, rec: Recorded) -> Row | None:
    """Project ``rec`` as one append; the subscriber's row then (without its id)."""
    async with conn.transaction():
        await project(conn, [SUBSCRIBERS], LIVE_TABLES, [rec])
    row = await conn.fetchrow(
        "select status, requested_at, confirmed_at, unsubscribed_at, unsubscribe_reason,"
        " bounces from subscribers where subscriber_id = $1::uuid",
        SUBSCRIBER.key(rec.stream_id),
    )
    return None if row is None else tuple(row)


def pending(at: datetime) -> Row:
    return ("pending", at, None, None, None, 0)


async def test_request_confirm_bounce_unsubscribe_and_start_over(pool: Pool) -> None:
    log = Log()
    me = SUBSCRIBER.name(ME)

    def add(event: Event) -> Recorded:
        return log.add(me, event)

    async with pool.acquire() as conn:
        # A confirmation without a request makes no subscriber.
        assert await after(conn, add(SubscriptionConfirmed())) is None
        first = add(SubscriptionRequested())
        assert await after(conn, first) == pending(first.recorded_at)
        # Asking again while pending: the request is the new one.
        again = add(SubscriptionRequested())
        assert await after(conn, again) == pending(again.recorded_at)
        confirm = add(SubscriptionConfirmed())
        confirmed = ("confirmed", again.recorded_at, confirm.recorded_at, None, None, 0)
        assert await after(conn, confirm) == confirmed
        # Confirmed: another request or confirmation changes nothing.
        assert await after(conn, add(SubscriptionRequested())) == confirmed
        assert await after(conn, add(SubscriptionConfirmed())) == confirmed
        # Only permanent bounces count.
        soft = add(DigestBounced(week="2026-W47", code=451, permanent=False))
        assert await after(conn, soft) == confirmed
        for n in (1, 2):
            hard = add(DigestBounced(week="2026-W47", code=550, permanent=True))
            assert await after(conn, hard) == (*confirmed[:5], n)
        bye = add(Unsubscribed(reason="bounce"))
        gone = (
            "unsubscribed",
            again.recorded_at,
            confirm.recorded_at,
            bye.recorded_at,
            "bounce",
            2,
        )
        assert await after(conn, bye) == gone
        # Unsubscribed once: another unsubscribe or a confirmation changes nothing.
        assert await after(conn, add(Unsubscribed(reason="link"))) == gone
        assert await after(conn, add(SubscriptionConfirmed())) == gone
        # A new request after an unsubscribe starts over, bounces and all.
        over = add(SubscriptionRequested())
        assert await after(conn, over) == pending(over.recorded_at)


async def test_unsubscribe_while_pending(pool: Pool) -> None:
    log = Log()
    me = SUBSCRIBER.name(ME)
    async with pool.acquire() as conn:
        asked = log.add(me, SubscriptionRequested())
        await after(conn, asked)
        bye = log.add(me, Unsubscribed(reason="one-click"))
        assert await after(conn, bye) == (
            "unsubscribed",
            asked.recorded_at,
            None,
            bye.recorded_at,
            "one-click",
            0,
        )


async def test_erased_ignores_every_later_event(pool: Pool) -> None:
    log = Log()
    me, other = SUBSCRIBER.name(IDS[0]), SUBSCRIBER.name(IDS[1])
    async with pool.acquire() as conn:
        asked = log.add(me, SubscriptionRequested())
        await after(conn, asked)
        confirm = log.add(me, SubscriptionConfirmed())
        await after(conn, confirm)
        erased = ("erased", asked.recorded_at, confirm.recorded_at, None, None, 0)
        assert await after(conn, log.add(me, SubscriberErased())) == erased
        for event in (
            SubscriptionRequested(),
            SubscriptionConfirmed(),
            Unsubscribed(reason="link"),
            DigestBounced(week="2026-W47", code=550, permanent=True),
            SubscriberErased(),
        ):
            assert await after(conn, log.add(me, event)) == erased
        # Someone else's stream is someone else's row.
        theirs = log.add(other, SubscriptionRequested())
        assert await after(conn, theirs) == pending(theirs.recorded_at)
        assert await conn.fetchval("select count(*) from subscribers") == 2
