"""The day-bucketed counters: compaction moves deltas into counters, and no read of
``totals`` or ``daily`` can tell, before, after or while it runs, even with votes
arriving at the same time."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core import reader_actions, tallies
from services.core.projections.community import tally_subject
from services.core.projections.counters import _COMPACT_LOCK, compact, daily, totals
from services.core.store import Connection, Pool

METRICS = ("ship", "skip", "bookmarks")
SUBJECTS = ("c-1/t-1", "c-1/t-2", "t-1")
DAY0 = date(2026, 11, 1)
DAYS = [DAY0 + timedelta(days=d) for d in range(5)]

Row = tuple[str, str, date, int]
rows = st.lists(
    st.tuples(
        st.sampled_from(METRICS),
        st.sampled_from(SUBJECTS),
        st.sampled_from(DAYS),
        st.integers(-3, 3),
    ),
    max_size=30,
)


async def insert_deltas(conn: Connection, deltas: list[Row]) -> None:
    await conn.executemany(
        "insert into counter_deltas (metric, subject, day, delta) values ($1, $2, $3, $4)",
        deltas,
    )


async def reads(conn: Connection, since: date) -> tuple[object, ...]:
    return (
        await totals(conn, METRICS),
        await totals(conn, ["ship"], ["c-1/t-1", "nothing"]),
        await daily(conn, METRICS, list(SUBJECTS), since=since),
    )


def expected_totals(deltas: list[Row]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for metric, subject, _, n in deltas:
        out[(metric, subject)] = out.get((metric, subject), 0) + n
    return out


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    compacted=rows,
    waiting=rows,
    limit=st.integers(1, 40),
    since=st.sampled_from(DAYS),
)
async def test_compaction_changes_no_count(
    pool: Pool, compacted: list[Row], waiting: list[Row], limit: int, since: date
) -> None:
    async with pool.acquire() as conn:
        await conn.execute("truncate counters, counter_deltas")
        # Some deltas already folded by an earlier round, and some still waiting.
        await insert_deltas(conn, compacted)
        while await compact(conn):
            pass
        await insert_deltas(conn, waiting)
        before = await reads(conn, since)
        assert before[0] == expected_totals(compacted + waiting)

        waiting_rows = len(waiting)
        folded = await compact(conn, limit=limit)
        assert folded == min(limit, waiting_rows)
        assert await conn.fetchval("select count(*) from counter_deltas") == waiting_rows - folded
        assert await reads(conn, since) == before

        while await compact(conn):
            pass
        assert await conn.fetchval("select count(*) from counter_deltas") == 0
        assert await reads(conn, since) == before
        # Everything is in counters now: one row per (metric, subject, day).
        per_day: dict[tuple[str, str, date], int] = {}
        for metric, subject, day, n in compacted + waiting:
            per_day[(metric, subject, day)] = per_day.get((metric, subject, day), 0) + n
        found = await conn.fetch("select metric, subject, day, value from counters")
        assert {(r[0], r[1], r[2]): r[3] for r in found} == per_day


async def test_daily_counts_everything_before_since_on_since(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await insert_deltas(
            conn,
            [
                ("ship", "c-1/t-1", DAYS[0], 2),
                ("ship", "c-1/t-1", DAYS[1], 1),
                ("ship", "c-1/t-1", DAYS[3], -1),
                ("skip", "c-1/t-1", DAYS[4], 1),
                ("ship", "c-1/t-2", DAYS[2], 5),  # another subject
                ("bookmarks", "c-1/t-1", DAYS[2], 7),  # another metric
            ],
        )
        await compact(conn, limit=2)
        assert await daily(conn, ["ship", "skip"], ["c-1/t-1"], since=DAYS[2]) == [
            ("ship", "c-1/t-1", DAYS[2], 3),
            ("ship", "c-1/t-1", DAYS[3], -1),
            ("skip", "c-1/t-1", DAYS[4], 1),
        ]
        assert await totals(conn, ["ship", "skip"], ["c-1/t-1"]) == {
            ("ship", "c-1/t-1"): 2,
            ("skip", "c-1/t-1"): 1,
        }


async def test_one_compactor_at_a_time(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await insert_deltas(conn, [("ship", "c-1/t-1", DAYS[0], 1)] * 3)
    async with pool.acquire() as holder, holder.transaction():
        # Another compactor is in its round.
        await holder.execute("select pg_advisory_xact_lock($1)", _COMPACT_LOCK)
        async with pool.acquire() as conn:
            assert await compact(conn) == 0
            assert await conn.fetchval("select count(*) from counter_deltas") == 3
    async with pool.acquire() as conn:
        assert await compact(conn) == 3
        assert await totals(conn, ["ship"]) == {("ship", "c-1/t-1"): 3}


async def test_totals_are_exact_while_compaction_runs(pool: Pool) -> None:
    async with pool.acquire() as conn:
        await insert_deltas(conn, [("ship", "c-1/t-1", DAYS[d % 5], 1) for d in range(1500)])
    done = asyncio.Event()

    async def compactor() -> int:
        rounds = 0
        async with pool.acquire() as conn:
            while await compact(conn, limit=40):
                rounds += 1
        done.set()
        return rounds

    async def reader() -> list[int]:
        seen = []
        async with pool.acquire() as conn:
            while not done.is_set():
                counts = await totals(conn, ["ship"], ["c-1/t-1"])
                seen.append(counts[("ship", "c-1/t-1")])
                days = await daily(conn, ["ship"], ["c-1/t-1"], since=DAYS[0])
                assert [d[3] for d in days] == [300] * 5
        return seen

    rounds, seen = await asyncio.gather(compactor(), reader())
    assert rounds == 1500 // 40 + 1
    assert seen and set(seen) == {1500}


CMP = "claude-files-api-vs-azure-ai-foundry-voice-router"
A = "claude-files-api"


async def test_votes_cast_while_compacting_all_count(pool: Pool, catalog: None) -> None:
    voters = [str(uuid.uuid4()) for _ in range(80)]
    subject = tally_subject(CMP, A)
    voting = asyncio.Event()

    async def vote(i: int, reader: str) -> None:
        await reader_actions.cast_vote(pool, reader, CMP, A, "ship")
        if i % 4 == 0:  # and a change of mind: -1 ship, +1 skip
            await reader_actions.cast_vote(pool, reader, CMP, A, "skip")

    async def votes() -> None:
        await asyncio.gather(*(vote(i, r) for i, r in enumerate(voters)))
        voting.set()

    async def compactor() -> int:
        folded = 0
        async with pool.acquire() as conn:
            while not voting.is_set():
                folded += await compact(conn, limit=10)
                await asyncio.sleep(0)
        return folded

    async def total_votes() -> list[int]:
        seen = []
        async with pool.acquire() as conn:
            while not voting.is_set():
                counts = await totals(conn, ["ship", "skip"], [subject])
                seen.append(sum(counts.values()))
                await asyncio.sleep(0)
        return seen

    _, folded, seen = await asyncio.gather(votes(), compactor(), total_votes())
    assert folded > 0, "compaction ran while the votes came in"
    # Every vote counts once: the total of standing votes only grows.
    assert seen == sorted(seen) and all(0 <= n <= len(voters) for n in seen)
    async with pool.acquire() as conn:
        expected = {("ship", subject): 60, ("skip", subject): 20}
        before = await daily(conn, ["ship", "skip"], [subject], since=date(2000, 1, 1))
        assert await totals(conn, ["ship", "skip"], [subject]) == expected
        while await compact(conn):
            pass
        assert await conn.fetchval("select count(*) from counter_deltas") == 0
        assert await totals(conn, ["ship", "skip"], [subject]) == expected
        assert await daily(conn, ["ship", "skip"], [subject], since=date(2000, 1, 1)) == before
        assert await tallies.verify(conn) == []
