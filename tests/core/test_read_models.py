"""Read models over the demo catalog and real reader actions: the comparison list
(newest first, withdrawn ones hidden), comparisons published before a time, one
comparison with its ship % history, and a reader's bookmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.core import read_models, reader_actions, tallies
from services.core.catalog_import import DEMO_CATALOG, load_catalog
from services.core.errors import UnknownComparisonError
from services.core.events import (
    CODEC,
    ComparisonWithdrawn,
    Event,
    Tool,
    Verdict,
    VoteCast,
    VoteWithdrawn,
)
from services.core.events import type_name as event_type
from services.core.panel import panel_for
from services.core.projections.base import LIVE_TABLES, project
from services.core.projections.catalog import ComparisonDoc
from services.core.read_models import HISTORY_DAYS, HistoryPoint
from services.core.store import Connection, Pool
from services.core.streams import COMPARISON, READER
from services.core.tallies import NO_VOTES, Tally
from services.core.writes import (
    INLINE_PROJECTIONS,
    STORE,
    append_at_current_version,
    gated_transaction,
    run_write,
)
from tests.conftest import NOW

FILE = load_catalog(DEMO_CATALOG)
TOOLS: dict[str, Tool] = {t.slug: t for t in FILE.tools}
CONTENT = {c.slug: c for c in FILE.comparisons}
TITLES = {c.slug: c.title for c in FILE.comparisons}

A, B = "claude-files-api", "azure-ai-foundry-voice-router"
M, C4 = "mistral-4b-edge", "claude-4-api-streaming-caching"
CMP = "claude-files-api-vs-azure-ai-foundry-voice-router"  # 2026-11-17
NEWEST = [  # by published_at, newest first
    "claude-4-api-streaming-caching-vs-azure-ai-foundry-voice-router",  # 11-19
    CMP,  # 11-17
    "azure-ai-foundry-voice-router-vs-mistral-4b-edge",  # 11-11
    "azure-ai-foundry-voice-router-vs-gemini-2-5-flash-lite",  # 11-06
    "azure-ai-foundry-voice-router-vs-gemini-2-5-flash-native-audio",  # 11-03
]
WITH_M = "azure-ai-foundry-voice-router-vs-mistral-4b-edge"


def new_reader() -> str:
    return str(uuid.uuid4())


async def withdraw(pool: Pool, slug: str) -> None:
    async def write(conn: Connection) -> None:
        await append_at_current_version(
            conn, COMPARISON.name(slug), [ComparisonWithdrawn(slug=slug, reason="test")]
        )

    await run_write(pool, write)


async def test_live_comparisons_newest_first_with_panel_and_community(
    pool: Pool, catalog: None
) -> None:
    readers = [new_reader() for _ in range(3)]
    verdicts: tuple[Verdict, ...] = ("ship", "ship", "skip")
    for r, verdict in zip(readers, verdicts, strict=True):
        await reader_actions.cast_vote(pool, r, CMP, A, verdict)
    await reader_actions.cast_vote(pool, readers[0], CMP, B, "skip")
    async with pool.acquire() as conn:
        live = await read_models.live_comparisons(conn)
        assert [c.slug for c in live] == NEWEST
        assert [c.slug for c in await read_models.live_comparisons(conn, limit=2)] == NEWEST[:2]
        current = await tallies.current(conn, [(c.slug, t) for c in live for t in c.tools])
        summaries = await read_models.list_comparisons(conn)
        assert [s.slug for s in await read_models.list_comparisons(conn, limit=3)] == NEWEST[:3]
    for c in live:
        content = CONTENT[c.slug]
        assert (c.title, c.published_at, c.withdrawn_at) == (
            content.title,
            content.published_at,
            None,
        )
        assert c.tools == content.tools
        notes = {s.tool: s for s in content.sides}
        doc = ComparisonDoc(sides=content.sides, reviews=content.reviews)
        for side in c.sides:
            assert side.tool == TOOLS[side.tool.slug]
            assert side.pricing_read == notes[side.tool.slug].pricing_read
            assert side.best_for == notes[side.tool.slug].best_for
            assert side.panel == panel_for(doc, side.tool.slug)
            assert side.community == current[(c.slug, side.tool.slug)]
    voted = live[NEWEST.index(CMP)]
    assert [s.community for s in voted.sides] == [Tally.of(2, 1), Tally.of(0, 1)]
    assert all(s.community == NO_VOTES for c in live if c.slug != CMP for s in c.sides)

    assert summaries == [read_models.summary_of(c) for c in live]
    cmp_summary = summaries[NEWEST.index(CMP)]
    assert [(s.tool, s.name, s.community) for s in cmp_summary.sides] == [
        (A, TOOLS[A].name, Tally.of(2, 1)),
        (B, TOOLS[B].name, Tally.of(0, 1)),
    ]
    assert [(s.panel_verdict, s.panel_ship, s.panel_skip) for s in cmp_summary.sides] == [
        ("ship", 4, 0),
        ("ship", 4, 0),
    ]


async def test_withdrawn_comparisons_are_hidden_from_lists(pool: Pool, catalog: None) -> None:
    await withdraw(pool, WITH_M)
    withdrawn_at = await pool.fetchval(
        "select recorded_at from events where type = 'ComparisonWithdrawn'"
    )
    hidden = [s for s in NEWEST if s != WITH_M]
    async with pool.acquire() as conn:
        assert [c.slug for c in await read_models.live_comparisons(conn)] == hidden
        assert [s.slug for s in await read_models.list_comparisons(conn)] == hidden
        # The limit counts live comparisons only.
        assert [c.slug for c in await read_models.live_comparisons(conn, limit=3)] == hidden[:3]
        assert [c.slug for c in await read_models.published_before(conn, NOW)] == hidden[::-1]
        # Its own page still finds it, and says it was withdrawn.
        page, _ = await read_models.comparison_with_history(conn, WITH_M, today=NOW.date())
    assert page.withdrawn_at == withdrawn_at


async def test_published_before_is_oldest_first_and_excludes_its_end(
    pool: Pool, catalog: None
) -> None:
    r = new_reader()
    await reader_actions.cast_vote(pool, r, CMP, B, "ship")
    cases = [
        (NOW, NEWEST[::-1]),
        # CMP was published at exactly 2026-11-17T09:00Z: not before that.
        (datetime(2026, 11, 17, 9, 0, tzinfo=UTC), NEWEST[:1:-1]),
        (datetime(2026, 11, 17, 9, 0, 1, tzinfo=UTC), NEWEST[:0:-1]),
        (datetime(2026, 11, 3, 9, 0, tzinfo=UTC), []),
    ]
    async with pool.acquire() as conn:
        for end, slugs in cases:
            found = await read_models.published_before(conn, end)
            assert [c.slug for c in found] == slugs, end
            for c in found:
                expected = Tally.of(1, 0) if c.slug == CMP else NO_VOTES
                assert {s.tool.slug: s.community for s in c.sides}[B] == expected


# --- ship % history --------------------------------------------------------------------


async def record_at(pool: Pool, at: datetime, reader: str, event: Event) -> None:
    """Append ``event`` to the reader's stream as recorded at ``at`` (the store stamps
    the database's ``now()``), then project it as an append does."""
    stream = READER.name(reader)
    async with pool.acquire() as conn, gated_transaction(conn):
        version = await STORE.stream_version(conn, stream)
        await conn.execute(
            "insert into events (stream_id, stream_version, type, schema_version, data,"
            " recorded_at) values ($1, $2, $3, $4, $5::jsonb, $6)",
            stream,
            version + 1,
            event_type(event),
            type(event).version,
            CODEC.encode(event),
            at,
        )
        recorded = (await STORE.read_stream(conn, stream))[-1]
        assert recorded.recorded_at == at
        await project(conn, INLINE_PROJECTIONS, LIVE_TABLES, [recorded])


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def point(day: str, ship: int, skip: int) -> HistoryPoint:
    t = Tally.of(ship, skip)
    return HistoryPoint(day=date.fromisoformat(day), ship=ship, skip=skip, ship_pct=t.ship_pct)


@pytest.mark.calendar
async def test_history_is_a_window_ending_today_whose_first_point_carries_the_past(
    pool: Pool, catalog: None
) -> None:
    today = NOW.date()  # 2026-11-24
    since = today - timedelta(days=HISTORY_DAYS - 1)
    assert since == date(2026, 10, 26)
    r = [new_reader() for _ in range(6)]
    script: list[tuple[datetime, str, Event]] = [
        (at("2026-08-01"), r[0], VoteCast(comparison=CMP, tool=A, verdict="ship")),
        (at("2026-10-25", 23), r[1], VoteCast(comparison=CMP, tool=A, verdict="skip")),
        (at("2026-10-26", 0), r[2], VoteCast(comparison=CMP, tool=A, verdict="ship")),
        (at("2026-11-10", 8), r[0], VoteCast(comparison=CMP, tool=A, verdict="skip")),
        (at("2026-11-10", 9), r[3], VoteCast(comparison=CMP, tool=A, verdict="ship")),
        (at("2026-11-15"), r[4], VoteCast(comparison=CMP, tool=B, verdict="ship")),
        (at("2026-11-20"), r[1], VoteWithdrawn(comparison=CMP, tool=A)),
        (at("2026-11-22", 8), r[5], VoteCast(comparison=CMP, tool=B, verdict="skip")),
        (at("2026-11-22", 9), r[5], VoteWithdrawn(comparison=CMP, tool=B)),
        (at("2026-11-24", 8), r[5], VoteCast(comparison=CMP, tool=A, verdict="ship")),
    ]
    for when, reader, event in script:
        await record_at(pool, when, reader, event)
    async with pool.acquire() as conn:
        comparison, history = await read_models.comparison_with_history(conn, CMP, today=today)
        current = await tallies.current(conn, [(CMP, A), (CMP, B)])
        assert await tallies.verify(conn) == []
    assert [h.tool for h in history] == [A, B]
    # Everything before the window is counted on its first day; then one point per day
    # that changed, the last one today.
    assert history[0].points == [
        point("2026-10-26", 2, 1),
        point("2026-11-10", 2, 2),
        point("2026-11-20", 2, 1),
        point("2026-11-24", 3, 1),
    ]
    # Nothing before the window: the first point is the first day with a vote. A day
    # whose votes cancel out leaves the standing votes as they were.
    assert history[1].points[0] == point("2026-11-15", 1, 0)
    assert all((p.ship, p.skip) == (1, 0) for p in history[1].points)
    for h in history:
        days = [p.day for p in h.points]
        assert days == sorted(set(days)) and all(since <= d <= today for d in days)
    # The page's tallies are the history's last points: the live counters.
    assert [s.community for s in comparison.sides] == [Tally.of(3, 1), Tally.of(1, 0)]
    assert {s.tool.slug: s.community for s in comparison.sides} == {
        t: current[(CMP, t)] for t in (A, B)
    }


@pytest.mark.calendar
async def test_history_a_day_later_folds_one_more_day_into_the_first_point(
    pool: Pool, catalog: None
) -> None:
    r = [new_reader() for _ in range(2)]
    await record_at(pool, at("2026-10-26"), r[0], VoteCast(comparison=CMP, tool=A, verdict="ship"))
    await record_at(pool, at("2026-10-27"), r[1], VoteCast(comparison=CMP, tool=A, verdict="skip"))
    async with pool.acquire() as conn:
        _, on_day = await read_models.comparison_with_history(conn, CMP, today=date(2026, 11, 24))
        _, next_day = await read_models.comparison_with_history(conn, CMP, today=date(2026, 11, 25))
    assert on_day[0].points == [point("2026-10-26", 1, 0), point("2026-10-27", 1, 1)]
    assert next_day[0].points == [point("2026-10-27", 1, 1)]


@pytest.mark.calendar
async def test_history_ends_today_even_with_a_vote_recorded_after_it(
    pool: Pool, catalog: None
) -> None:
    today = NOW.date()
    r = [new_reader() for _ in range(2)]
    await record_at(pool, at("2026-11-20"), r[0], VoteCast(comparison=CMP, tool=A, verdict="ship"))
    late = datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC)
    await record_at(pool, late, r[1], VoteCast(comparison=CMP, tool=A, verdict="skip"))
    async with pool.acquire() as conn:
        comparison, history = await read_models.comparison_with_history(conn, CMP, today=today)
        current = await tallies.current(conn, [(CMP, A)])
    # The page still shows every standing vote ...
    assert comparison.sides[0].community == current[(CMP, A)] == Tally.of(1, 1)
    # ... and its chart no day after today.
    assert [p.day for p in history[0].points if p.day > today] == []


async def test_a_comparison_without_votes_has_no_history(pool: Pool, catalog: None) -> None:
    async with pool.acquire() as conn:
        comparison, history = await read_models.comparison_with_history(conn, CMP, today=NOW.date())
    assert comparison.tools == (A, B)
    assert [(h.tool, h.points) for h in history] == [(A, []), (B, [])]
    assert [s.community for s in comparison.sides] == [NO_VOTES, NO_VOTES]


async def test_unknown_comparison(pool: Pool, catalog: None) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(UnknownComparisonError) as raised:
            await read_models.comparison_with_history(conn, "no-such-comparison", today=NOW.date())
        assert raised.value.slug == "no-such-comparison"
        with pytest.raises(UnknownComparisonError):
            await read_models.comparison_tools(conn, "no-such-comparison")
        assert await read_models.comparison_tools(conn, CMP) == (A, B)


# --- bookmarks -------------------------------------------------------------------------


async def bookmarks(pool: Pool, reader: str) -> list[tuple[str, list[str]]]:
    async with pool.acquire() as conn:
        found = await read_models.bookmarks_of(conn, reader)
    for b in found:
        assert b.tool == TOOLS[b.tool.slug]
        assert all(link.title == TITLES[link.slug] for link in b.comparisons)
    return [(b.tool.slug, [link.slug for link in b.comparisons]) for b in found]


async def test_bookmarks_in_the_order_bookmarked_with_live_comparisons_newest_first(
    pool: Pool, catalog: None
) -> None:
    reader, other = new_reader(), new_reader()
    # Neither alphabetical nor catalog order.
    for tool in (M, B, A):
        await reader_actions.set_bookmark(pool, reader, tool, True)
    await reader_actions.set_bookmark(pool, other, C4, True)
    assert await bookmarks(pool, reader) == [(M, [WITH_M]), (B, NEWEST), (A, [CMP])]
    assert await bookmarks(pool, other) == [(C4, NEWEST[:1])]
    assert await bookmarks(pool, new_reader()) == []

    await withdraw(pool, WITH_M)
    assert await bookmarks(pool, reader) == [
        (M, []),
        (B, [s for s in NEWEST if s != WITH_M]),
        (A, [CMP]),
    ]
    # Bookmarked again: it goes to the end.
    await reader_actions.set_bookmark(pool, reader, B, False)
    assert [t for t, _ in await bookmarks(pool, reader)] == [M, A]
    await reader_actions.set_bookmark(pool, reader, B, True)
    assert [t for t, _ in await bookmarks(pool, reader)] == [M, A, B]


async def test_bookmarked_tools_and_tools_by_slug(pool: Pool, catalog: None) -> None:
    async with pool.acquire() as conn:
        assert await read_models.bookmarked_tools(conn, [M, "no-such-tool", A, B]) == [
            TOOLS[M],
            TOOLS[A],
            TOOLS[B],
        ]
        assert await read_models.bookmarked_tools(conn, []) == []
        assert await read_models.tools_by_slug(conn, [A, "no-such-tool", M]) == {
            A: TOOLS[A],
            M: TOOLS[M],
        }
        assert await read_models.tools_by_slug(conn, list(TOOLS)) == TOOLS
        assert await read_models.tools_by_slug(conn, []) == {}
