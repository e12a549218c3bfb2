"""Read models for pages, the JSON API and the digest: comparisons with both tools,
their panel and community tallies, the daily ship % history, and a reader's bookmarks.

Read-only: every function here only SELECTs from projections.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import msgspec

from .errors import UnknownComparisonError
from .events import TOOL_FIELDS, Tool
from .panel import Panel, PanelVerdict, panel_for
from .projections.catalog import TOOL_COLUMNS, ComparisonDoc, decode_doc, tool_of
from .projections.community import tally_subject
from .projections.counters import daily
from .store import Connection
from .tallies import NO_VOTES, Tally, current

HISTORY_DAYS = 30
"""Days of ship % history a comparison shows: a page's cost must not grow with its age."""


class ComparisonSide(msgspec.Struct, frozen=True, kw_only=True):
    """One tool of a comparison in full: the tool, the notes on it, panel and community."""

    tool: Tool
    pricing_read: str
    best_for: str
    panel: Panel
    community: Tally


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    published_at: datetime
    withdrawn_at: datetime | None
    sides: list[ComparisonSide]

    @property
    def tools(self) -> tuple[str, str]:
        return (self.sides[0].tool.slug, self.sides[1].tool.slug)


class SideSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One tool of a comparison, as the comparison list shows it."""

    tool: str
    name: str
    panel_verdict: PanelVerdict | None
    panel_ship: int
    panel_skip: int
    community: Tally


class ComparisonSummary(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    published_at: datetime
    sides: list[SideSummary]


class HistoryPoint(msgspec.Struct, frozen=True, kw_only=True):
    """Standing community votes on a tool at the end of one day (UTC)."""

    day: date
    ship: int
    skip: int
    ship_pct: int | None


class ToolHistory(msgspec.Struct, frozen=True, kw_only=True):
    """A tool's community ship % by day over the last 30 days (UTC); the first point
    also counts every vote cast before it."""

    tool: str
    points: list[HistoryPoint]


class ComparisonLink(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str


class BookmarkedTool(msgspec.Struct, frozen=True, kw_only=True):
    """A bookmarked tool, with the live comparisons it appears in (newest first)."""

    tool: Tool
    comparisons: list[ComparisonLink]


# A comparison with both of its tools, in one row: the catalog part of every read.
_ENTRY = (
    "select c.slug, c.title, c.published_at, c.withdrawn_at, c.doc::text, "
    + ", ".join(f"{side}.{f}" for side in ("a", "b") for f in TOOL_FIELDS)
    + " from comparisons c join tools a on a.slug = c.tool_a join tools b on b.slug = c.tool_b"
)


class _Entry(msgspec.Struct, frozen=True):
    """A comparison as the catalog holds it; community tallies are added per read."""

    slug: str
    title: str
    published_at: datetime
    withdrawn_at: datetime | None
    doc: ComparisonDoc
    tools: tuple[Tool, Tool]

    @classmethod
    def of(cls, row: tuple[object, ...]) -> _Entry:
        n = len(TOOL_FIELDS)
        slug, title, published_at, withdrawn_at, doc = row[:5]
        return cls(
            slug,  # type: ignore[arg-type]
            title,  # type: ignore[arg-type]
            published_at,  # type: ignore[arg-type]
            withdrawn_at,  # type: ignore[arg-type]
            decode_doc(doc),  # type: ignore[arg-type]
            (tool_of(row[5 : 5 + n]), tool_of(row[5 + n :])),
        )

    def tally_keys(self) -> list[tuple[str, str]]:
        return [(self.slug, t.slug) for t in self.tools]

    def with_tallies(self, tallies: dict[str, Tally]) -> Comparison:
        notes = {s.tool: s for s in self.doc.sides}
        return Comparison(
            slug=self.slug,
            title=self.title,
            published_at=self.published_at,
            withdrawn_at=self.withdrawn_at,
            sides=[
                ComparisonSide(
                    tool=t,
                    pricing_read=notes[t.slug].pricing_read,
                    best_for=notes[t.slug].best_for,
                    panel=panel_for(self.doc, t.slug),
                    community=tallies.get(t.slug, NO_VOTES),
                )
                for t in self.tools
            ],
        )


async def _entries(conn: Connection, where: str, *args: object) -> list[_Entry]:
    rows = await conn.fetch(f"{_ENTRY} {where}", *args)
    return [_Entry.of(tuple(r)) for r in rows]


async def _with_current_tallies(conn: Connection, entries: list[_Entry]) -> list[Comparison]:
    tallies = await current(conn, [k for e in entries for k in e.tally_keys()])
    return [
        e.with_tallies({tool: tallies[(slug, tool)] for slug, tool in e.tally_keys()})
        for e in entries
    ]


async def live_comparisons(conn: Connection, *, limit: int = 100) -> list[Comparison]:
    """Published comparisons that are not withdrawn, newest first."""
    entries = await _entries(
        conn, "where c.withdrawn_at is null order by c.published_at desc, c.slug limit $1", limit
    )
    return await _with_current_tallies(conn, entries)


async def published_before(conn: Connection, end: datetime) -> list[Comparison]:
    """Live comparisons published before ``end``, oldest first, tallies as they stand."""
    entries = await _entries(
        conn,
        "where c.withdrawn_at is null and c.published_at < $1 order by c.published_at, c.slug",
        end,
    )
    return await _with_current_tallies(conn, entries)


def summary_of(comparison: Comparison) -> ComparisonSummary:
    """A comparison as the comparison list shows it."""
    return ComparisonSummary(
        slug=comparison.slug,
        title=comparison.title,
        published_at=comparison.published_at,
        sides=[
            SideSummary(
                tool=s.tool.slug,
                name=s.tool.name,
                panel_verdict=s.panel.verdict,
                panel_ship=s.panel.ship,
                panel_skip=s.panel.skip,
                community=s.community,
            )
            for s in comparison.sides
        ],
    )


async def list_comparisons(conn: Connection, *, limit: int = 100) -> list[ComparisonSummary]:
    """Live comparisons, newest first, with panel and community summaries."""
    return [summary_of(c) for c in await live_comparisons(conn, limit=limit)]


async def comparison_with_history(
    conn: Connection, slug: str, *, today: date
) -> tuple[Comparison, list[ToolHistory]]:
    """One comparison with both tools, panel and community, and the ``HISTORY_DAYS``
    up to ``today`` of ``ship_history``, in two statements: the current tally is the
    history's last point. ``UnknownComparisonError`` if there is none."""
    found = await _entries(conn, "where c.slug = $1", slug)
    if not found:
        raise UnknownComparisonError(slug)
    entry = found[0]
    since = today - timedelta(days=HISTORY_DAYS - 1)
    history = await ship_history(
        conn, slug, [t.slug for t in entry.tools], since=since, until=today
    )
    tallies = {
        h.tool: Tally.of(h.points[-1].ship, h.points[-1].skip) if h.points else NO_VOTES
        for h in history
    }
    return entry.with_tallies(tallies), history


async def ship_history(
    conn: Connection, comparison: str, tools: list[str], *, since: date, until: date
) -> list[ToolHistory]:
    """Each tool's standing ship/skip counts at the end of every day it changed from
    ``since`` to ``until``; the first point (on ``since``) stands for everything
    before it, the last (on ``until`` at the latest) for everything since."""
    subjects = {tally_subject(comparison, t): t for t in tools}
    running = {t: {"ship": 0, "skip": 0} for t in tools}
    points: dict[str, list[HistoryPoint]] = {t: [] for t in tools}
    changes = await daily(conn, ("ship", "skip"), list(subjects), since=since, until=until)
    for metric, subject, day, delta in changes:
        tool = subjects[subject]
        running[tool][metric] += delta
        tally = Tally.of(running[tool]["ship"], running[tool]["skip"])
        point = HistoryPoint(day=day, ship=tally.ship, skip=tally.skip, ship_pct=tally.ship_pct)
        if points[tool] and points[tool][-1].day == day:
            points[tool][-1] = point
        else:
            points[tool].append(point)
    return [ToolHistory(tool=t, points=points[t]) for t in tools]


async def comparison_tools(conn: Connection, slug: str) -> tuple[str, str]:
    """The two tools of a comparison; ``UnknownComparisonError`` if there is none."""
    row = await conn.fetchrow("select tool_a, tool_b from comparisons where slug = $1", slug)
    if row is None:
        raise UnknownComparisonError(slug)
    return row[0], row[1]


async def tools_by_slug(conn: Connection, slugs: list[str]) -> dict[str, Tool]:
    rows = await conn.fetch(f"select {TOOL_COLUMNS} from tools where slug = any($1)", slugs)
    return {r[0]: tool_of(tuple(r)) for r in rows}


async def bookmarked_tools(conn: Connection, slugs: list[str]) -> list[Tool]:
    """The tools ``slugs`` (a reader's bookmarks), in that order."""
    tools = await tools_by_slug(conn, slugs)
    return [tools[s] for s in slugs if s in tools]


async def bookmarks_of(conn: Connection, reader_id: str) -> list[BookmarkedTool]:
    """The reader's bookmarked tools, in the order they were bookmarked, each with the
    live comparisons it appears in: one statement."""
    rows = await conn.fetch(
        f"select {', '.join(f't.{f}' for f in TOOL_FIELDS)},"
        " array(select row(c.slug, c.title) from comparisons c where c.withdrawn_at is null"
        "  and t.slug in (c.tool_a, c.tool_b) order by c.published_at desc, c.slug)"
        " from reader_bookmarks b join tools t on t.slug = b.tool"
        " where b.reader_id = $1::uuid order by b.added_at, b.tool",
        reader_id,
    )
    n = len(TOOL_FIELDS)
    return [
        BookmarkedTool(
            tool=tool_of(tuple(r)),
            comparisons=[ComparisonLink(slug=s, title=t) for s, t in r[n]],
        )
        for r in rows
    ]
