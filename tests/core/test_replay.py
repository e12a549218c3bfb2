"""Replay and verify: the incremental path, a full rebuild, and SQL over the log all
agree, including while votes keep arriving during the rebuild."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core import reader_actions, tallies
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.db import connect
from services.core.events import Verdict
from services.core.replay import UnknownProjectionError, replay
from services.core.store import Pool

CMP = "claude-files-api-vs-azure-ai-foundry-voice-router"
TOOLS = ("claude-files-api", "azure-ai-foundry-voice-router")
READERS = [str(uuid.UUID(int=i + 1)) for i in range(12)]

Action = tuple[int, int, str]  # reader index, tool index, "ship" | "skip" | "withdraw"
actions = st.lists(
    st.tuples(
        st.integers(0, len(READERS) - 1),
        st.integers(0, 1),
        st.sampled_from(["ship", "skip", "withdraw"]),
    ),
    max_size=40,
)


async def snapshot(pool: Pool) -> tuple[object, ...]:
    async with pool.acquire() as conn:
        votes = await conn.fetch("select * from reader_votes order by 1, 2, 3")
        bookmarks = await conn.fetch("select * from reader_bookmarks order by 1, 2")
        current = await tallies.all_current(conn)
    return [tuple(r) for r in votes], [tuple(r) for r in bookmarks], current


@pytest.fixture
async def catalog(pool: Pool) -> Pool:
    await import_catalog(pool, load_catalog(DEMO_CATALOG))
    return pool


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    script=actions,
    bookmarks=st.lists(
        st.tuples(st.integers(0, 11), st.integers(0, 1), st.booleans()), max_size=10
    ),
)
async def test_incremental_equals_replayed_equals_recomputed(
    catalog: Pool, dsn: str, script: list[Action], bookmarks: list[tuple[int, int, bool]]
) -> None:
    # Each example starts from the log as the previous one left it: the invariant
    # must hold for any history, so nothing is reset.
    expected: dict[tuple[str, str], str] = {
        (str(r["reader_id"]), r["tool"]): r["verdict"]
        for r in await catalog.fetch("select * from reader_votes where comparison = $1", CMP)
    }
    for reader, tool, act in script:
        r, t = READERS[reader], TOOLS[tool]
        if act == "withdraw":
            await reader_actions.withdraw_vote(catalog, r, CMP, t)
            expected.pop((r, t), None)
        else:
            await reader_actions.cast_vote(catalog, r, CMP, t, act)  # type: ignore[arg-type]
            expected[(r, t)] = act
    for reader, tool, on in bookmarks:
        await reader_actions.set_bookmark(catalog, READERS[reader], TOOLS[tool], on)

    async with catalog.acquire() as conn:
        incremental = await tallies.current(conn, [(CMP, t) for t in TOOLS])
        for t in TOOLS:
            ships = sum(1 for (_, tt), v in expected.items() if tt == t and v == "ship")
            skips = sum(1 for (_, tt), v in expected.items() if tt == t and v == "skip")
            assert (incremental[(CMP, t)].ship, incremental[(CMP, t)].skip) == (ships, skips)
        assert await tallies.verify(conn) == []
    before = await snapshot(catalog)
    fresh = await connect(dsn)
    try:
        await replay(fresh)
    finally:
        await fresh.close()
    assert await snapshot(catalog) == before


async def test_replay_while_votes_keep_arriving(catalog: Pool, dsn: str) -> None:
    voters = [str(uuid.uuid4()) for _ in range(300)]
    for r in voters[:150]:
        await reader_actions.cast_vote(catalog, r, CMP, TOOLS[0], "ship")
    stop = asyncio.Event()

    async def keep_voting() -> int:
        n = 0
        for i, r in enumerate(voters[150:]):
            await reader_actions.cast_vote(
                catalog, r, CMP, TOOLS[i % 2], "skip" if i % 3 else "ship"
            )
            n += 1
            if stop.is_set() and n > 20:
                break
        return n

    voting = asyncio.create_task(keep_voting())
    conn = await connect(dsn)
    try:
        progress: list[tuple[int, int]] = []
        report = await replay(
            conn, ["community"], page=50, on_progress=lambda a, b: progress.append((a, b))
        )
    finally:
        await conn.close()
    stop.set()
    await voting
    assert report.projections == ("community",)
    assert progress and progress[-1][0] == progress[-1][1]
    async with catalog.acquire() as c:
        assert await tallies.verify(c) == []
        total = await c.fetchval("select count(*) from reader_votes")
    assert total == await catalog.fetchval("select count(*) from events where type = 'VoteCast'")


async def test_swaps_lose_nothing_while_group_commits_keep_writing(catalog: Pool, dsn: str) -> None:
    """Sixteen voters changing their votes through the group commit's one-statement
    appends (which take no write gate) while replay rebuilds and swaps three times:
    every tally, every day of history and every standing vote is what the log says."""
    voters = [str(uuid.uuid4()) for _ in range(16)]
    stop = asyncio.Event()

    async def keep_changing(reader: str, n: int) -> None:
        verdicts: tuple[Verdict, Verdict] = ("ship", "skip")
        while not stop.is_set():
            await reader_actions.cast_vote(catalog, reader, CMP, TOOLS[n % 2], verdicts[n % 2])
            await reader_actions.set_bookmark(catalog, reader, TOOLS[n % 2], n % 3 == 0)
            n += 1

    writers = [asyncio.create_task(keep_changing(r, i)) for i, r in enumerate(voters)]
    conn = await connect(dsn)
    try:
        for _ in range(3):
            await replay(conn, ["community"], page=20)
    finally:
        await conn.close()
        stop.set()
        await asyncio.gather(*writers)
    async with catalog.acquire() as c:
        assert await tallies.verify(c) == []
        standing = await c.fetch(
            "select reader_id::text, comparison, tool, verdict from reader_votes order by 1, 2, 3"
        )
        from_log = await c.fetch(
            "select distinct on (stream_id, data ->> 'comparison', data ->> 'tool')"
            " substr(stream_id, 8), data ->> 'comparison', data ->> 'tool', data ->> 'verdict'"
            " from events where type = 'VoteCast'"
            " order by stream_id, data ->> 'comparison', data ->> 'tool', position desc"
        )
    assert [tuple(r) for r in standing] == sorted(tuple(r) for r in from_log)


async def test_a_group_append_waits_for_the_swaps_table_locks(catalog: Pool) -> None:
    """What the swap relies on: a one-statement group append takes all its table locks
    before it inserts its event, so while the swap holds the live tables, no event of
    theirs can be appended."""
    before = await catalog.fetchval("select count(*) from events")
    async with catalog.acquire() as swap, swap.transaction():
        await swap.execute("lock table reader_votes, counter_deltas in access exclusive mode")
        voting = asyncio.create_task(
            reader_actions.cast_vote(catalog, str(uuid.uuid4()), CMP, TOOLS[0], "ship")
        )
        # Wait until the vote is queued behind the lock: then it has not appended.
        async with asyncio.timeout(30):
            while True:
                if await catalog.fetchval(
                    "select exists(select 1 from pg_locks where not granted"
                    " and relation = any(array['reader_votes', 'counter_deltas']::regclass[]))"
                ):
                    break
                await asyncio.sleep(0.01)
        assert not voting.done()
        assert await catalog.fetchval("select count(*) from events") == before
    outcome = await voting
    assert outcome.tally.ship >= 1
    assert await catalog.fetchval("select count(*) from events") == before + 1


async def test_replay_twice_and_unknown_name(catalog: Pool, dsn: str) -> None:
    await reader_actions.cast_vote(catalog, str(uuid.uuid4()), CMP, TOOLS[0], "ship")
    conn = await connect(dsn)
    try:
        await replay(conn)
        await replay(conn, ["catalog", "community"])
        with pytest.raises(
            UnknownProjectionError, match="known: catalog, community, deliveries, subscribers"
        ):
            await replay(conn, ["nope"])
    finally:
        await conn.close()
    async with catalog.acquire() as c:
        assert (await tallies.current(c, [(CMP, TOOLS[0])]))[(CMP, TOOLS[0])].ship == 1
        assert await c.fetchval("select count(*) from comparisons") == 5


async def test_verify_reports_drift(catalog: Pool) -> None:
    await reader_actions.cast_vote(catalog, str(uuid.uuid4()), CMP, TOOLS[0], "ship")
    await catalog.execute(
        "insert into counter_deltas (metric, subject, day, delta)"
        " values ('skip', $1, current_date, 2)",
        f"{CMP}/{TOOLS[0]}",
    )
    async with catalog.acquire() as conn:
        drift = await tallies.verify(conn)
    assert len(drift) == 2
    total, day = drift
    assert isinstance(total, tallies.Drift)
    assert (total.projected.skip, total.from_log.skip) == (2, 0)
    assert isinstance(day, tallies.DayDrift) and (day.comparison, day.tool) == (CMP, TOOLS[0])
    assert (day.projected.skip, day.from_log.skip) == (2, 0)


async def test_verify_reports_a_history_that_drifted_while_the_tally_held(catalog: Pool) -> None:
    reader = str(uuid.uuid4())
    await reader_actions.cast_vote(catalog, reader, CMP, TOOLS[0], "ship")
    await reader_actions.cast_vote(catalog, reader, CMP, TOOLS[1], "skip")
    today = await catalog.fetchval("select (now() at time zone 'UTC')::date")
    # The ship moved to yesterday in the counters: totals agree, the history does not.
    await catalog.execute(
        "insert into counter_deltas (metric, subject, day, delta)"
        " values ('ship', $1, $2, -1), ('ship', $1, $2 - 1, 1)",
        f"{CMP}/{TOOLS[0]}",
        today,
    )
    async with catalog.acquire() as conn:
        drift = await tallies.verify(conn)
    assert [(d.comparison, d.tool, d.day) for d in drift if isinstance(d, tallies.DayDrift)] == [
        (CMP, TOOLS[0], today - timedelta(days=1)),
        (CMP, TOOLS[0], today),
    ]
    assert len(drift) == 2, "the tallies themselves still match"
    yesterday, on_the_day = drift
    assert isinstance(yesterday, tallies.DayDrift) and isinstance(on_the_day, tallies.DayDrift)
    assert (yesterday.projected.ship, yesterday.from_log.ship) == (1, 0)
    assert (on_the_day.projected.ship, on_the_day.from_log.ship) == (0, 1)


async def test_tally_as_of_a_past_time(catalog: Pool) -> None:
    r = str(uuid.uuid4())
    await reader_actions.cast_vote(catalog, r, CMP, TOOLS[0], "ship")
    await asyncio.sleep(0.01)
    between = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await reader_actions.cast_vote(catalog, r, CMP, TOOLS[0], "skip")
    async with catalog.acquire() as conn:
        then = await tallies.recompute(conn, comparison=CMP, as_of=between)
        now = await tallies.recompute(conn, comparison=CMP)
    assert (then[(CMP, TOOLS[0])].ship, then[(CMP, TOOLS[0])].skip) == (1, 0)
    assert (now[(CMP, TOOLS[0])].ship, now[(CMP, TOOLS[0])].skip) == (0, 1)
