"""Reader actions against the demo catalog: votes, changes, withdrawals, bookmarks,
and a distinct error (with nothing appended) for each bad target."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core import read_models, reader_actions, tallies
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.errors import (
    ComparisonWithdrawnError,
    ToolNotInComparisonError,
    UnknownComparisonError,
    UnknownToolError,
)
from services.core.events import ComparisonWithdrawn, Verdict
from services.core.projections.community import tally_subject
from services.core.reader_state import ReaderState, reader_state
from services.core.store import IDEMPOTENCY_KEY_LIFETIME, IdempotentRequest, Pool
from services.core.streams import COMPARISON
from services.core.tallies import Tally
from services.core.writes import append_at_current_version
from tests.conftest import NOW

CMP = "claude-files-api-vs-azure-ai-foundry-voice-router"
A, B = "claude-files-api", "azure-ai-foundry-voice-router"


@pytest.fixture
async def catalog(pool: Pool) -> Pool:
    await import_catalog(pool, load_catalog(DEMO_CATALOG))
    return pool


def new_reader() -> str:
    return str(uuid.uuid4())


async def tally(pool: Pool, tool: str) -> tuple[int, int]:
    async with pool.acquire() as conn:
        t = (await tallies.current(conn, [(CMP, tool)]))[(CMP, tool)]
    return t.ship, t.skip


async def test_vote_change_withdraw(catalog: Pool) -> None:
    r = new_reader()
    outcome = await reader_actions.cast_vote(catalog, r, CMP, A, "ship")
    # The answer already shows the reader's own vote, and the tally with it.
    assert outcome.state.vote(CMP, A) == "ship"
    assert (outcome.tally.ship, outcome.tally.skip, outcome.tally.ship_pct) == (1, 0, 100)
    await reader_actions.cast_vote(catalog, r, CMP, B, "skip")
    assert (await tally(catalog, A), await tally(catalog, B)) == ((1, 0), (0, 1))

    outcome = await reader_actions.cast_vote(catalog, r, CMP, A, "skip")
    assert outcome.state.vote(CMP, A) == "skip"
    assert await tally(catalog, A) == (0, 1) == (outcome.tally.ship, outcome.tally.skip)

    outcome = await reader_actions.withdraw_vote(catalog, r, CMP, A)
    assert outcome.state.vote(CMP, A) is None
    assert await tally(catalog, A) == (0, 0) == (outcome.tally.ship, outcome.tally.skip)


async def test_repeating_a_vote_or_withdrawal_appends_nothing(catalog: Pool) -> None:
    r = new_reader()
    await reader_actions.cast_vote(catalog, r, CMP, A, "ship")
    await reader_actions.cast_vote(catalog, r, CMP, A, "ship")
    await reader_actions.withdraw_vote(catalog, r, CMP, B)
    assert (
        await catalog.fetchval("select count(*) from events where stream_id = $1", f"reader-{r}")
        == 1
    )
    assert await tally(catalog, A) == (1, 0)


def keyed(reader: str, action: str, tool: str, key: str | None = None) -> IdempotentRequest:
    """The request an API call for ``action`` sends, with an ``Idempotency-Key``."""
    verdict = VERDICTS.get(action)
    return IdempotentRequest.of(
        key or str(uuid.uuid4()),
        caller=f"reader-{reader}",
        method="DELETE" if action in ("withdraw", "unbookmark") else "PUT",
        path=f"/api/v1/comparisons/{CMP}/votes/{tool}" if verdict else f"/api/v1/bookmarks/{tool}",
        body=b'{"verdict":"%s"}' % verdict.encode() if verdict else b"",
        expires_at=NOW + IDEMPOTENCY_KEY_LIFETIME,
    )


async def test_idempotency_key_makes_a_retry_harmless(catalog: Pool) -> None:
    r = new_reader()
    ship = keyed(r, "ship", A, "k1")
    await reader_actions.cast_vote(catalog, r, CMP, A, "ship", idempotency=ship)
    await reader_actions.cast_vote(catalog, r, CMP, A, "skip")
    retried = await reader_actions.cast_vote(catalog, r, CMP, A, "ship", idempotency=ship)
    assert retried.state.vote(CMP, A) == "skip", "the retried request must not re-cast its vote"
    assert await tally(catalog, A) == (0, 1) == (retried.tally.ship, retried.tally.skip)


@pytest.mark.parametrize(
    ("comparison", "tool", "error"),
    [
        ("no-such-comparison", A, UnknownComparisonError),
        (CMP, "no-such-tool", UnknownToolError),
        (CMP, "mistral-4b-edge", ToolNotInComparisonError),
    ],
)
async def test_bad_targets_have_distinct_errors_and_append_nothing(
    catalog: Pool, comparison: str, tool: str, error: type[Exception]
) -> None:
    before = await catalog.fetchval("select count(*) from events")
    with pytest.raises(error):
        await reader_actions.cast_vote(catalog, new_reader(), comparison, tool, "ship")
    with pytest.raises(error):
        await reader_actions.withdraw_vote(catalog, new_reader(), comparison, tool)
    assert await catalog.fetchval("select count(*) from events") == before


async def test_withdrawn_comparison_takes_no_votes(catalog: Pool) -> None:
    async with catalog.acquire() as conn, conn.transaction():
        await append_at_current_version(
            conn, COMPARISON.name(CMP), [ComparisonWithdrawn(slug=CMP, reason="test")]
        )
    before = await catalog.fetchval("select count(*) from events")
    with pytest.raises(ComparisonWithdrawnError):
        await reader_actions.cast_vote(catalog, new_reader(), CMP, A, "ship")
    assert await catalog.fetchval("select count(*) from events") == before


async def test_bookmarks(catalog: Pool) -> None:
    r = new_reader()
    state = await reader_actions.set_bookmark(catalog, r, A, True)
    assert state.bookmarks == [A]
    await reader_actions.set_bookmark(catalog, r, A, True)
    state = await reader_actions.set_bookmark(catalog, r, B, True)
    assert state.bookmarks == [A, B]
    state = await reader_actions.set_bookmark(catalog, r, A, False)
    assert state.bookmarks == [B]
    with pytest.raises(UnknownToolError):
        await reader_actions.set_bookmark(catalog, r, "nope", True)
    async with catalog.acquire() as conn:
        from services.core.projections.counters import totals

        counts = await totals(conn, ["bookmarks"], [A, B])
    assert counts == {("bookmarks", A): 0, ("bookmarks", B): 1}


async def test_250_concurrent_voters_on_one_tool_all_count(catalog: Pool) -> None:
    voters = [new_reader() for _ in range(250)]

    async def vote(i: int, r: str) -> None:
        await reader_actions.cast_vote(catalog, r, CMP, A, "ship" if i % 3 else "skip")

    await asyncio.gather(*(vote(i, r) for i, r in enumerate(voters)))
    ship = sum(1 for i in range(250) if i % 3)
    assert await tally(catalog, A) == (ship, 250 - ship)
    async with catalog.acquire() as conn:
        assert await tallies.verify(conn) == []


async def test_one_reader_racing_itself_keeps_one_standing_vote(catalog: Pool) -> None:
    r = new_reader()
    await asyncio.gather(
        *(
            reader_actions.cast_vote(catalog, r, CMP, A, "ship" if i % 2 else "skip")
            for i in range(20)
        )
    )
    assert sum(await tally(catalog, A)) == 1
    async with catalog.acquire() as conn:
        assert await tallies.verify(conn) == []


TOOLS = (A, B)
VERDICTS: dict[str, Verdict] = {"ship": "ship", "skip": "skip"}
actions_strategy = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.sampled_from(["ship", "skip", "withdraw", "bookmark", "unbookmark"]),
        st.sampled_from(TOOLS),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=actions_strategy)
async def test_the_returned_state_is_what_the_projection_holds(
    catalog: Pool, actions: list[tuple[int, str, str, bool]]
) -> None:
    """The state a reader action answers with (computed, not re-read) always equals the
    projection's rows read back, with or without an idempotency key, and so does the
    tally a vote answers with; the comparison page's tallies (from the day history)
    equal the counters."""
    people = [new_reader() for _ in range(3)]
    for who, action, tool, with_key in actions:
        r = people[who]
        key = keyed(r, action, tool) if with_key else None
        answered: Tally | None = None
        state: ReaderState
        if action in VERDICTS:
            verdict = VERDICTS[action]
            outcome = await reader_actions.cast_vote(
                catalog, r, CMP, tool, verdict, idempotency=key
            )
            state, answered = outcome.state, outcome.tally
        elif action == "withdraw":
            outcome = await reader_actions.withdraw_vote(catalog, r, CMP, tool, idempotency=key)
            state, answered = outcome.state, outcome.tally
        else:
            state = await reader_actions.set_bookmark(
                catalog, r, tool, action == "bookmark", idempotency=key
            )
        async with catalog.acquire() as conn:
            assert state == await reader_state(conn, r)
            if answered is not None:  # one writer at a time: the tally is exact
                assert answered == (await tallies.current(conn, [(CMP, tool)]))[(CMP, tool)]
    async with catalog.acquire() as conn:
        # The page's tallies come from the day history; they must be the live counters.
        page, _ = await read_models.comparison_with_history(conn, CMP, today=NOW.date())
        live = await tallies.current(conn, [(CMP, t) for t in TOOLS])
        assert {s.tool.slug: (s.community.ship, s.community.skip) for s in page.sides} == {
            t: (live[(CMP, t)].ship, live[(CMP, t)].skip) for t in TOOLS
        }


@pytest.mark.calendar
async def test_history_is_the_last_30_days_and_its_first_point_carries_the_past(
    catalog: Pool,
) -> None:
    today = NOW.date()
    subject = tally_subject(CMP, A)
    old = [("ship", subject, today - timedelta(days=d), 1) for d in range(100)]
    await catalog.executemany(
        "insert into counters (metric, subject, day, value) values ($1, $2, $3, $4)",
        [*old, ("skip", subject, today - timedelta(days=200), 3)],
    )
    async with catalog.acquire() as conn:
        comparison, history = await read_models.comparison_with_history(conn, CMP, today=today)
    points = next(h for h in history if h.tool == A).points
    assert len(points) == read_models.HISTORY_DAYS
    assert points[0].day == today - timedelta(days=read_models.HISTORY_DAYS - 1)
    assert (points[0].ship, points[0].skip) == (100 - read_models.HISTORY_DAYS + 1, 3)
    assert (points[-1].day, points[-1].ship, points[-1].skip) == (today, 100, 3)
    assert comparison.sides[0].community.ship == 100
