"""Community tallies: ``Tally`` itself, the tallies the counters projection holds, the
same recomputed from the log (now and as of a past time), and ``verify`` between them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core import reader_actions, tallies
from services.core.events import Verdict
from services.core.projections.community import tally_subject
from services.core.projections.counters import compact
from services.core.store import Pool
from services.core.tallies import NO_VOTES, Drift, Tally

CMP = "claude-files-api-vs-azure-ai-foundry-voice-router"
A, B = "claude-files-api", "azure-ai-foundry-voice-router"
CMP2 = "azure-ai-foundry-voice-router-vs-mistral-4b-edge"
M = "mistral-4b-edge"

votes = st.sampled_from(["ship", "skip", None])
counts = st.integers(0, 10_000)


def new_reader() -> str:
    return str(uuid.uuid4())


# --- Tally ----------------------------------------------------------------------------


def test_no_votes_has_no_ship_pct() -> None:
    assert Tally.of(0, 0) == Tally() == NO_VOTES
    assert NO_VOTES.ship_pct is None
    assert NO_VOTES.total == 0


@pytest.mark.parametrize(
    ("ship", "skip", "pct"),
    [
        (1, 0, 100),
        (0, 1, 0),
        (1, 2, 33),
        (2, 1, 67),
        (1, 1, 50),
        (5, 3, 62),  # 62.5: an exact half goes to the even neighbour
        (3, 5, 38),  # 37.5
        (1, 199, 0),  # 0.5
        (199, 1, 100),  # 99.5
        (2, 998, 0),  # 0.2
        (998, 2, 100),  # 99.8
    ],
)
def test_ship_pct_rounds_to_the_nearest_whole_percent(ship: int, skip: int, pct: int) -> None:
    t = Tally.of(ship, skip)
    assert (t.ship, t.skip, t.ship_pct, t.total) == (ship, skip, pct, ship + skip)


@given(ship=counts, skip=counts)
def test_ship_pct_is_the_nearest_whole_percent(ship: int, skip: int) -> None:
    t = Tally.of(ship, skip)
    if ship + skip == 0:
        assert t.ship_pct is None
        return
    exact = Fraction(100 * ship, ship + skip)
    assert t.ship_pct is not None
    assert abs(t.ship_pct - exact) <= Fraction(1, 2)
    if abs(t.ship_pct - exact) == Fraction(1, 2):
        assert t.ship_pct % 2 == 0
    assert (t.ship_pct == 0) == (exact <= Fraction(1, 2))
    assert (t.ship_pct == 100) == (exact >= Fraction(199, 2))


@given(ship=counts, skip=counts, before=votes, after=votes, then=votes)
def test_changed_is_a_recount_with_one_vote_moved(
    ship: int, skip: int, before: Verdict | None, after: Verdict | None, then: Verdict | None
) -> None:
    """``ship`` and ``skip`` are everyone else's votes; the tally includes the reader's
    ``before`` vote too."""

    def with_reader(vote: Verdict | None) -> Tally:
        return Tally.of(ship + (vote == "ship"), skip + (vote == "skip"))

    start = with_reader(before)
    moved = start.changed(before, after)
    assert moved == with_reader(after)
    assert moved.total == start.total - (before is not None) + (after is not None)
    assert start.changed(before, before) == start
    assert moved.changed(after, before) == start
    assert moved.changed(after, then) == start.changed(before, then)


# --- against the log ------------------------------------------------------------------


async def test_current_all_current_and_recompute_agree(pool: Pool, catalog: None) -> None:
    r1, r2, r3 = new_reader(), new_reader(), new_reader()
    await reader_actions.cast_vote(pool, r1, CMP, A, "ship")
    await reader_actions.cast_vote(pool, r2, CMP, A, "ship")
    await reader_actions.cast_vote(pool, r3, CMP, A, "skip")
    await reader_actions.cast_vote(pool, r1, CMP, B, "ship")
    await reader_actions.cast_vote(pool, r1, CMP, B, "skip")  # changed
    await reader_actions.cast_vote(pool, r1, CMP2, M, "ship")
    await reader_actions.withdraw_vote(pool, r1, CMP2, M)  # back to no votes
    await reader_actions.set_bookmark(pool, r1, A, True)  # not a vote
    expected = {(CMP, A): Tally(ship=2, skip=1, ship_pct=67), (CMP, B): Tally.of(0, 1)}
    async with pool.acquire() as conn:
        current = await tallies.current(conn, [(CMP, A), (CMP, B), (CMP2, M), (CMP2, A)])
        assert current == {**expected, (CMP2, M): NO_VOTES, (CMP2, A): NO_VOTES}
        assert await tallies.current(conn, []) == {}
        # Only tallies with votes; the one withdrawn back to zero is not listed.
        assert await tallies.all_current(conn) == expected
        assert await tallies.recompute(conn) == expected
        assert await tallies.recompute(conn, comparison=CMP) == expected
        assert await tallies.recompute(conn, comparison=CMP2) == {}
        assert await tallies.verify(conn) == []
        assert await compact(conn) > 0
        assert await tallies.all_current(conn) == expected
        assert await tallies.verify(conn) == []


async def _inject(pool: Pool, metric: str, comparison: str, tool: str, delta: int) -> None:
    await pool.execute(
        "insert into counter_deltas (metric, subject, day, delta) values ($1, $2, $3, $4)",
        metric,
        tally_subject(comparison, tool),
        date(2026, 11, 20),
        delta,
    )


async def test_verify_reports_injected_drift_only(pool: Pool, catalog: None) -> None:
    r1, r2 = new_reader(), new_reader()
    await reader_actions.cast_vote(pool, r1, CMP, A, "ship")
    await reader_actions.cast_vote(pool, r2, CMP, A, "skip")
    await reader_actions.cast_vote(pool, r1, CMP, B, "skip")
    async with pool.acquire() as conn:
        assert await tallies.verify(conn) == []
    # Deltas that cancel out, and a count that is not a vote, are no drift.
    await _inject(pool, "ship", CMP, B, 1)
    await _inject(pool, "ship", CMP, B, -1)
    await pool.execute(
        "insert into counters (metric, subject, day, value) values ('bookmarks', $1, $2, 5)",
        A,
        date(2026, 11, 20),
    )
    async with pool.acquire() as conn:
        assert await tallies.verify(conn) == []
    await _inject(pool, "ship", CMP, A, 2)
    await _inject(pool, "skip", CMP2, M, 1)  # a tool nobody voted on
    async with pool.acquire() as conn:
        drift = await tallies.verify(conn)
        # Sorted by (comparison, tool): "azure-…" before "claude-…".
        assert drift == [
            Drift(CMP2, M, projected=Tally.of(0, 1), from_log=NO_VOTES),
            Drift(CMP, A, projected=Tally.of(3, 1), from_log=Tally.of(1, 1)),
        ]
        # Compaction moves the injected rows; the drift stays what it was.
        await compact(conn)
        assert await tallies.verify(conn) == drift


async def _recorded_ats(pool: Pool, reader: str) -> list[datetime]:
    rows = await pool.fetch(
        "select recorded_at from events where stream_id = $1 order by position",
        f"reader-{reader}",
    )
    return [r[0] for r in rows]


async def test_recompute_as_of_excludes_later_votes(pool: Pool, catalog: None) -> None:
    r1, r2 = new_reader(), new_reader()
    await reader_actions.cast_vote(pool, r1, CMP, A, "ship")
    await asyncio.sleep(0.002)
    await reader_actions.cast_vote(pool, r2, CMP, A, "ship")
    await asyncio.sleep(0.002)
    await reader_actions.cast_vote(pool, r1, CMP, A, "skip")
    await asyncio.sleep(0.002)
    await reader_actions.cast_vote(pool, r2, CMP2, M, "skip")
    await asyncio.sleep(0.002)
    await reader_actions.withdraw_vote(pool, r1, CMP, A)
    (r1_ship, r1_skip, r1_withdraw) = await _recorded_ats(pool, r1)
    (r2_ship, r2_other) = await _recorded_ats(pool, r2)
    times = [r1_ship, r2_ship, r1_skip, r2_other, r1_withdraw]
    assert times == sorted(set(times)), "the votes were recorded at distinct, increasing times"
    us = timedelta(microseconds=1)

    async def as_of(at: datetime, comparison: str | None = None) -> dict[tuple[str, str], Tally]:
        async with pool.acquire() as conn:
            return await tallies.recompute(conn, comparison=comparison, as_of=at)

    assert await as_of(r1_ship - us) == {}
    assert await as_of(r1_ship) == {(CMP, A): Tally.of(1, 0)}  # the bound is inclusive
    assert await as_of(r2_ship - us) == {(CMP, A): Tally.of(1, 0)}
    assert await as_of(r2_ship) == {(CMP, A): Tally.of(2, 0)}
    assert await as_of(r1_skip) == {(CMP, A): Tally.of(1, 1)}
    assert await as_of(r2_other) == {(CMP, A): Tally.of(1, 1), (CMP2, M): Tally.of(0, 1)}
    assert await as_of(r2_other, CMP) == {(CMP, A): Tally.of(1, 1)}
    assert await as_of(r1_withdraw) == {(CMP, A): Tally.of(1, 0), (CMP2, M): Tally.of(0, 1)}
    async with pool.acquire() as conn:
        assert await tallies.recompute(conn) == await as_of(r1_withdraw)
        assert await tallies.all_current(conn) == await as_of(r1_withdraw)


Step = tuple[int, int, str]  # reader, tool, "ship" | "skip" | "withdraw"
TOOLS = (A, B)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 2), st.integers(0, 1), st.sampled_from(["ship", "skip", "withdraw"])
        ),
        min_size=1,
        max_size=10,
    )
)
async def test_as_of_every_step_is_that_steps_standing_votes(
    pool: Pool, catalog: None, steps: list[Step]
) -> None:
    """After each reader action, the tallies recomputed as of that moment are the
    standing votes a plain model holds, and the counters agree at the end."""
    async with pool.acquire() as conn:
        # The database is shared by the examples: earlier ones' votes stand under ours.
        base = await tallies.recompute(conn, comparison=CMP)
    readers = [new_reader() for _ in range(3)]
    standing: dict[tuple[int, int], Verdict] = {}
    checkpoints: list[tuple[datetime, dict[tuple[str, str], Tally]]] = []
    for who, tool, action in steps:
        if action == "withdraw":
            await reader_actions.withdraw_vote(pool, readers[who], CMP, TOOLS[tool])
            standing.pop((who, tool), None)
        else:
            verdict: Verdict = "ship" if action == "ship" else "skip"
            await reader_actions.cast_vote(pool, readers[who], CMP, TOOLS[tool], verdict)
            standing[(who, tool)] = verdict
        expected = {}
        for t, slug in enumerate(TOOLS):
            b = base.get((CMP, slug), NO_VOTES)
            mine = [v for (_, vt), v in standing.items() if vt == t]
            tally = Tally.of(b.ship + mine.count("ship"), b.skip + mine.count("skip"))
            if tally.total:
                expected[(CMP, slug)] = tally
        at = await pool.fetchval("select max(recorded_at) from events")
        checkpoints.append((at, expected))
    async with pool.acquire() as conn:
        for at, expected in checkpoints:
            assert await tallies.recompute(conn, comparison=CMP, as_of=at) == expected
        final = checkpoints[-1][1]
        assert await tallies.current(conn, [(CMP, t) for t in TOOLS]) == {
            (CMP, t): final.get((CMP, t), NO_VOTES) for t in TOOLS
        }
        assert await tallies.verify(conn) == []
