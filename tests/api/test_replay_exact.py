"""``replay`` gives back exactly what was there: after random reader and subscriber
actions on random days, every projection table (row for row) and every comparison's
API document are the same before and after a rebuild from the log, and ``verify``
finds nothing, tallies or history.

The day of a count is the day of the event's ``recorded_at``, the database's ``now()``.
A test cannot move PostgreSQL's clock, so it moves the column's default instead: each
action then runs through the real write path (group commit, inline projections) and
lands on the day the example chose.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar

from services.core import reader_actions, subscriptions, tallies
from services.core.db import connect
from services.core.events import DigestBounced, DigestDelivered
from services.core.projections.counters import compact
from services.core.replay import replay
from services.core.store import Connection, Pool
from services.core.streams import SUBSCRIBER
from services.core.writes import STORE, run_write
from tests.conftest import NOW

from .conftest import AZURE, FILES, FILES_VS_AZURE

CACHING_VS_AZURE = "claude-4-api-streaming-caching-vs-azure-ai-foundry-voice-router"
CACHING = "claude-4-api-streaming-caching"
VOTABLE = [(FILES_VS_AZURE, FILES), (FILES_VS_AZURE, AZURE), (CACHING_VS_AZURE, CACHING)]
READERS = [str(uuid.UUID(int=i + 1)) for i in range(5)]
EMAILS = [f"reader{i}@example.com" for i in range(4)]
# Few days, so that several actions share one; one of them older than the 30 days a
# comparison's history shows, whose changes its first point carries.
DAYS = [NOW.date() - timedelta(days=d) for d in (45, 12, 3, 1, 0)]


@dataclass(frozen=True)
class Vote:
    reader: int
    target: int
    verdict: Literal["ship", "skip", "withdraw"]


@dataclass(frozen=True)
class Bookmark:
    reader: int
    target: int
    on: bool


@dataclass(frozen=True)
class Subscriber:
    email: int
    act: Literal["subscribe", "confirm", "unsubscribe", "delivered", "bounced", "erase"]


Action = Vote | Bookmark | Subscriber
actions = st.lists(
    st.tuples(
        st.sampled_from(DAYS),
        st.one_of(
            st.builds(
                Vote,
                st.integers(0, len(READERS) - 1),
                st.integers(0, len(VOTABLE) - 1),
                st.sampled_from(["ship", "skip", "withdraw"]),
            ),
            st.builds(
                Bookmark,
                st.integers(0, len(READERS) - 1),
                st.integers(0, len(VOTABLE) - 1),
                st.booleans(),
            ),
            st.builds(
                Subscriber,
                st.integers(0, len(EMAILS) - 1),
                st.sampled_from(
                    ["subscribe", "confirm", "unsubscribe", "delivered", "bounced", "erase"]
                ),
            ),
        ),
    ),
    max_size=30,
)


async def on_day(pool: Pool, day: date) -> None:
    """Record what follows at noon (UTC) of ``day``."""
    at = datetime.combine(day, time(12), tzinfo=UTC)
    await pool.execute(f"alter table events alter column recorded_at set default '{at}'")


async def subscriber_act(pool: Pool, sid: str, act: str) -> None:
    match act:
        case "confirm":
            await subscriptions.confirm_subscription(pool, sid)
        case "unsubscribe":
            await subscriptions.unsubscribe(pool, sid, "link")
        case "erase":
            await subscriptions.erase_subscriber(pool, sid)
        case _:
            outcome = (
                DigestDelivered(week="2026-W47", message_id=f"<{sid}@verdicts.test>")
                if act == "delivered"
                else DigestBounced(week="2026-W47", code=550, permanent=True)
            )

            async def record(conn: Connection) -> None:
                version = await STORE.stream_version(conn, SUBSCRIBER.name(sid))
                await subscriptions.record_digest_outcome(
                    conn, sid, outcome, expected_version=version
                )

            await run_write(pool, record)


async def perform(pool: Pool, action: Action, subscribers: dict[int, str]) -> None:
    """Do ``action`` as the site would; refusals (an erased address) are fine."""
    match action:
        case Vote(reader, target, "withdraw"):
            await reader_actions.withdraw_vote(pool, READERS[reader], *VOTABLE[target])
        case Vote(reader, target, "ship" | "skip" as verdict):
            comparison, tool = VOTABLE[target]
            await reader_actions.cast_vote(pool, READERS[reader], comparison, tool, verdict)
        case Bookmark(reader, target, on):
            await reader_actions.set_bookmark(pool, READERS[reader], VOTABLE[target][1], on)
        case Subscriber(email, "subscribe"):
            subscribers[email] = await subscriptions.request_subscription(pool, EMAILS[email])
        case Subscriber(email, act) if email in subscribers:
            await subscriber_act(pool, subscribers[email], act)


TABLES = {
    "tools": "select * from tools order by slug",
    "comparisons": "select * from comparisons order by slug",
    "reader_votes": "select * from reader_votes order by reader_id, comparison, tool",
    "reader_bookmarks": "select * from reader_bookmarks order by reader_id, tool",
    "counts": "select metric, subject, day, sum(n) from"
    " (select metric, subject, day, value as n from counters"
    "  union all select metric, subject, day, delta from counter_deltas) c"
    " group by metric, subject, day order by metric, subject, day",
    "subscribers": "select * from subscribers order by subscriber_id",
    "digest_deliveries": "select * from digest_deliveries order by week, subscriber_id",
}


async def tables(pool: Pool) -> dict[str, list[tuple[object, ...]]]:
    async with pool.acquire() as conn:
        return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in TABLES.items()}


async def documents(client: httpx.AsyncClient, pool: Pool) -> dict[str, object]:
    """Every comparison's API document, read by a reader who never acted."""
    slugs = [r[0] for r in await pool.fetch("select slug from comparisons order by slug")]
    found = {}
    for slug in slugs:
        r = await client.get(f"/api/v1/comparisons/{slug}")
        assert r.status_code == 200, r.text
        found[slug] = r.json()
    return found


async def compacted(pool: Pool) -> None:
    """Fold every delta, as the compactor does in time (it may be mid-round: wait)."""
    for _ in range(200):
        async with pool.acquire() as conn:
            await compact(conn)
            if not await conn.fetchval("select exists(select from counter_deltas)"):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("counter deltas were not folded in 200 rounds")


async def verified(pool: Pool) -> list[object]:
    async with pool.acquire() as conn:
        return list(await tallies.verify(conn))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=actions)
async def test_replay_gives_back_every_row_and_every_answer(
    app: Litestar,
    app_pool: Pool,
    client: httpx.AsyncClient,
    dsn: str,
    script: list[tuple[date, Action]],
) -> None:
    # Each example goes on from the log the previous ones left: the promise holds for
    # any history, so nothing is reset.
    subscribers = {
        i: sid
        for i, e in enumerate(EMAILS)
        if (
            sid := await app_pool.fetchval(
                "select subscriber_id::text from subscriber_emails where email = $1", e
            )
        )
    }
    try:
        for day, action in script:
            await on_day(app_pool, day)
            await perform(app_pool, action, subscribers)
    finally:
        await app_pool.execute("alter table events alter column recorded_at set default now()")

    inline_answers = await documents(client, app_pool)
    await compacted(app_pool)
    inline_rows = await tables(app_pool)
    assert await documents(client, app_pool) == inline_answers, "compaction changed an answer"
    assert await verified(app_pool) == []

    conn = await connect(dsn)
    try:
        await replay(conn)
    finally:
        await conn.close()

    assert await tables(app_pool) == inline_rows
    assert await documents(client, app_pool) == inline_answers
    assert await verified(app_pool) == []
