"""The catalog projection: tools and comparisons as published, revised and withdrawn.
Inline, replayed and caught-up tables agree for any log; and the fold's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.core.events import (
    ComparisonPublished,
    ComparisonRevised,
    ComparisonWithdrawn,
    Event,
    Review,
    Reviewer,
    SideNotes,
    ToolListed,
    ToolRevised,
    Verdict,
    VoteCast,
)
from services.core.projections.base import LIVE_TABLES, project
from services.core.projections.catalog import CATALOG, ComparisonDoc, decode_doc
from services.core.store import Connection, Pool, Recorded
from services.core.streams import COMPARISON, READER, TOOL
from tests.core.projections.both_paths import Log, all_paths, assert_same_tables, batches

TOOL_SLUGS = ("t-a", "t-b", "t-c")
CMP_SLUGS = ("c-1", "c-2")
PUBLISHED = (datetime(2026, 11, 3, 9, tzinfo=UTC), datetime(2026, 11, 17, 9, tzinfo=UTC))
REVIEWERS: tuple[Reviewer, ...] = ("builder", "skeptic", "founder", "futurist")


def tool_event(revised: bool, slug: str, name: str) -> ToolListed:
    kind = ToolRevised if revised else ToolListed
    return kind(
        slug=slug,
        name=name,
        vendor="Vendor",
        category="LLM API",
        tagline="Does things",
        description="Does things well",
        pricing_entry="free tier",
    )


def comparison(
    revised: bool,
    slug: str,
    title: str,
    published_at: datetime,
    tools: tuple[str, str],
    reviews: tuple[tuple[int, Reviewer, int, Verdict], ...] = (),
) -> ComparisonPublished:
    kind = ComparisonRevised if revised else ComparisonPublished
    return kind(
        slug=slug,
        title=title,
        published_at=published_at,
        tools=tools,
        sides=tuple(SideNotes(tool=t, pricing_read="paid", best_for="teams") for t in tools),
        reviews=tuple(
            Review(tool=tools[side], reviewer=who, score=score, verdict=verdict, text="ok")
            for side, who, score, verdict in reviews
        ),
    )


tool_events = st.builds(
    tool_event, st.booleans(), st.sampled_from(TOOL_SLUGS), st.sampled_from(["One", "Two"])
)
comparison_events = st.builds(
    comparison,
    st.booleans(),
    st.sampled_from(CMP_SLUGS),
    st.sampled_from(["Title", "Better title"]),
    st.sampled_from(PUBLISHED),
    st.permutations(TOOL_SLUGS).map(lambda p: (p[0], p[1])),
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.sampled_from(REVIEWERS),
            st.integers(0, 100),
            st.sampled_from(["ship", "skip"]),
        ),
        max_size=3,
    ).map(tuple),
)
withdrawals = st.builds(
    ComparisonWithdrawn, slug=st.sampled_from(CMP_SLUGS), reason=st.sampled_from(["", "stale"])
)


def stream_of(event: Event) -> str:
    if isinstance(event, ToolListed):
        return TOOL.name(event.slug)
    if isinstance(event, ComparisonPublished | ComparisonWithdrawn):
        return COMPARISON.name(event.slug)
    return READER.name("00000000-0000-0000-0000-000000000001")


entries = st.lists(
    st.one_of(
        tool_events,
        comparison_events,
        withdrawals,
        # Not the catalog's: ``project`` must pass it by.
        st.just(VoteCast(comparison="c-1", tool="t-a", verdict="ship")),
    ),
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
    pool: Pool, events: list[Event], minutes: list[int], cut: list[int], replayed: int
) -> None:
    """Any log of listings, revisions, publications and withdrawals, projected inline in
    batches, replayed, or replayed in part and caught up: the same tools and comparisons."""
    log = Log()
    for i, event in enumerate(events):
        log.add(stream_of(event), event, timedelta(minutes=minutes[i % len(minutes)]))
    async with pool.acquire() as conn:
        await all_paths(conn, CATALOG, log.records, batches(log.records, cut), replayed)
        await assert_same_tables(conn, CATALOG.tables)


# --- the fold's rules -----------------------------------------------------------------


async def step(conn: Connection, log: Log, event: Event) -> Recorded:
    rec = log.add(stream_of(event), event)
    async with conn.transaction():
        await project(conn, [CATALOG], LIVE_TABLES, [rec])
    return rec


async def tool_row(conn: Connection, slug: str) -> tuple[object, ...] | None:
    row = await conn.fetchrow("select name, listed_at, revised_at from tools where slug = $1", slug)
    return None if row is None else tuple(row)


async def test_a_revised_tool_keeps_when_it_was_listed(pool: Pool) -> None:
    log = Log()
    async with pool.acquire() as conn:
        listed = await step(conn, log, tool_event(False, "t-a", "One"))
        assert await tool_row(conn, "t-a") == ("One", listed.recorded_at, listed.recorded_at)
        revised = await step(conn, log, tool_event(True, "t-a", "Two"))
        assert await tool_row(conn, "t-a") == ("Two", listed.recorded_at, revised.recorded_at)
        # Listed again (a re-import of a dropped row): still first listed back then.
        again = await step(conn, log, tool_event(False, "t-a", "Three"))
        assert await tool_row(conn, "t-a") == ("Three", listed.recorded_at, again.recorded_at)
        # A revision of a tool never listed lists it.
        first = await step(conn, log, tool_event(True, "t-b", "One"))
        assert await tool_row(conn, "t-b") == ("One", first.recorded_at, first.recorded_at)


async def comparison_row(conn: Connection, slug: str) -> tuple[object, ...] | None:
    row = await conn.fetchrow(
        "select title, published_at, tool_a, tool_b, doc::text, withdrawn_at"
        " from comparisons where slug = $1",
        slug,
    )
    if row is None:
        return None
    return (row[0], row[1], row[2], row[3], decode_doc(row[4]), row[5])


async def test_withdrawn_comparisons_stay_withdrawn_when_revised(pool: Pool) -> None:
    log = Log()
    first = comparison(
        False, "c-1", "Title", PUBLISHED[0], ("t-a", "t-b"), ((0, "builder", 80, "ship"),)
    )
    doc = ComparisonDoc(sides=first.sides, reviews=first.reviews)
    async with pool.acquire() as conn:
        # Withdrawing what was never published changes nothing.
        await step(conn, log, ComparisonWithdrawn(slug="c-1"))
        assert await comparison_row(conn, "c-1") is None
        await step(conn, log, first)
        assert await comparison_row(conn, "c-1") == ("Title", PUBLISHED[0], "t-a", "t-b", doc, None)
        gone = await step(conn, log, ComparisonWithdrawn(slug="c-1", reason="stale"))
        assert await comparison_row(conn, "c-1") == (
            "Title",
            PUBLISHED[0],
            "t-a",
            "t-b",
            doc,
            gone.recorded_at,
        )
        # A revision replaces the content, published_at included, and stays withdrawn.
        revised = comparison(True, "c-1", "Better title", PUBLISHED[1], ("t-b", "t-a"))
        await step(conn, log, revised)
        assert await comparison_row(conn, "c-1") == (
            "Better title",
            PUBLISHED[1],
            "t-b",
            "t-a",
            ComparisonDoc(sides=revised.sides, reviews=()),
            gone.recorded_at,
        )
        # Published anew, it is live again.
        await step(conn, log, first)
        assert await comparison_row(conn, "c-1") == ("Title", PUBLISHED[0], "t-a", "t-b", doc, None)
        assert await conn.fetchval("select count(*) from comparisons") == 1
