"""Read models for pages and the JSON API: comparisons with their panel summary,
community tallies and daily ship % history, and a reader's bookmarked tools.

Read-only: every function here only SELECTs from projections.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple

import msgspec

from .errors import UnknownComparisonError
from .events import Review, Reviewer, Verdict
from .projections.catalog import ComparisonDoc
from .projections.community import tally_subject
from .projections.counters import daily
from .reader_actions import ReaderState
from .store import Connection
from .tallies import Tally, current

REVIEWER_ORDER: tuple[Reviewer, ...] = ("builder", "skeptic", "founder", "futurist")

PanelVerdict = Literal["ship", "skip", "split"]


class CommunityTally(msgspec.Struct, frozen=True, kw_only=True):
    """Standing community votes on one tool: ship, skip and ship % (``None`` before any)."""

    ship: int
    skip: int
    ship_pct: int | None

    @classmethod
    def of(cls, tally: Tally) -> CommunityTally:
        return cls(ship=tally.ship, skip=tally.skip, ship_pct=tally.ship_pct)


class Tool(msgspec.Struct, frozen=True, kw_only=True):
    """A tool as the catalog lists it."""

    slug: str
    name: str
    vendor: str
    category: str
    tagline: str
    description: str
    pricing_entry: str


class PanelReview(msgspec.Struct, frozen=True, kw_only=True):
    """One reviewer persona's verdict on one tool."""

    reviewer: Reviewer
    score: int
    verdict: Verdict
    text: str


class Panel(msgspec.Struct, frozen=True, kw_only=True):
    """The panel's verdict on one tool: "Ship · 4 ship / 0 skip"."""

    verdict: PanelVerdict | None
    ship: int
    skip: int
    ship_pct: int | None
    reviews: list[PanelReview]

    @classmethod
    def of(cls, reviews: list[PanelReview]) -> Panel:
        ship = sum(r.verdict == "ship" for r in reviews)
        skip = len(reviews) - ship
        verdict: PanelVerdict | None = None
        if reviews:
            verdict = "ship" if ship > skip else "skip" if skip > ship else "split"
        return cls(
            verdict=verdict,
            ship=ship,
            skip=skip,
            ship_pct=round(100 * ship / len(reviews)) if reviews else None,
            reviews=reviews,
        )


class SideSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One tool of a comparison, as the comparison list shows it."""

    tool: str
    name: str
    panel_verdict: PanelVerdict | None
    panel_ship: int
    panel_skip: int
    community: CommunityTally


class ComparisonSummary(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    published_at: datetime
    sides: list[SideSummary]


class Side(msgspec.Struct, frozen=True, kw_only=True):
    """One tool of a comparison in full: the tool, the pricing read, panel and community."""

    tool: Tool
    pricing_read: str
    best_for: str
    panel: Panel
    community: CommunityTally


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    published_at: datetime
    withdrawn_at: datetime | None
    sides: list[Side]

    @property
    def tools(self) -> tuple[str, str]:
        return (self.sides[0].tool.slug, self.sides[1].tool.slug)


class HistoryPoint(msgspec.Struct, frozen=True, kw_only=True):
    """Standing community votes on a tool at the end of one day (UTC)."""

    day: date
    ship: int
    skip: int
    ship_pct: int | None


HISTORY_DAYS = 30
"""Days of ship % history a comparison shows: a page's cost must not grow with its age."""


class ToolHistory(msgspec.Struct, frozen=True, kw_only=True):
    """A tool's community ship % by day over the last 30 days (UTC); the first point
    also counts every vote cast before it."""

    tool: str
    points: list[HistoryPoint]


def _reviews_for(doc: ComparisonDoc, tool: str) -> list[PanelReview]:
    mine: list[Review] = [r for r in doc.reviews if r.tool == tool]
    mine.sort(key=lambda r: REVIEWER_ORDER.index(r.reviewer))
    return [
        PanelReview(reviewer=r.reviewer, score=r.score, verdict=r.verdict, text=r.text)
        for r in mine
    ]


_doc_decoder = msgspec.json.Decoder(ComparisonDoc)


async def list_comparisons(conn: Connection, *, limit: int = 100) -> list[ComparisonSummary]:
    """Published comparisons that are not withdrawn, newest first."""
    rows = await conn.fetch(
        "select c.slug, c.title, c.published_at, c.tool_a, c.tool_b, c.doc::text,"
        " ta.name, tb.name from comparisons c"
        " join tools ta on ta.slug = c.tool_a join tools tb on tb.slug = c.tool_b"
        " where c.withdrawn_at is null order by c.published_at desc, c.slug limit $1",
        limit,
    )
    tallies = await current(conn, [(r[0], t) for r in rows for t in (r[3], r[4])])
    out = []
    for slug, title, published_at, tool_a, tool_b, doc_text, name_a, name_b in rows:
        doc = _doc_decoder.decode(doc_text)
        sides = []
        for tool, name in ((tool_a, name_a), (tool_b, name_b)):
            panel = Panel.of(_reviews_for(doc, tool))
            sides.append(
                SideSummary(
                    tool=tool,
                    name=name,
                    panel_verdict=panel.verdict,
                    panel_ship=panel.ship,
                    panel_skip=panel.skip,
                    community=CommunityTally.of(tallies[(slug, tool)]),
                )
            )
        out.append(
            ComparisonSummary(slug=slug, title=title, published_at=published_at, sides=sides)
        )
    return out


async def tools_by_slug(conn: Connection, slugs: list[str]) -> dict[str, Tool]:
    rows = await conn.fetch(
        "select slug, name, vendor, category, tagline, description, pricing_entry"
        " from tools where slug = any($1)",
        slugs,
    )
    return {r[0]: Tool(**dict(r)) for r in rows}


_TOOL_COLUMNS = ("slug", "name", "vendor", "category", "tagline", "description", "pricing_entry")


class _Entry(NamedTuple):
    """A comparison as the catalog holds it; community tallies are added per read."""

    slug: str
    title: str
    published_at: datetime
    withdrawn_at: datetime | None
    doc: ComparisonDoc
    tools: tuple[Tool, ...]

    def with_tallies(self, tallies: dict[str, Tally]) -> Comparison:
        sides_by_tool = {s.tool: s for s in self.doc.sides}
        return Comparison(
            slug=self.slug,
            title=self.title,
            published_at=self.published_at,
            withdrawn_at=self.withdrawn_at,
            sides=[
                Side(
                    tool=t,
                    pricing_read=sides_by_tool[t.slug].pricing_read,
                    best_for=sides_by_tool[t.slug].best_for,
                    panel=Panel.of(_reviews_for(self.doc, t.slug)),
                    community=CommunityTally.of(tallies[t.slug]),
                )
                for t in self.tools
            ],
        )


async def _catalog_entry(conn: Connection, slug: str) -> _Entry:
    """The comparison with both tools, in one statement; ``UnknownComparisonError`` if none."""
    cols = ", ".join(f"{side}.{c}" for side in ("a", "b") for c in _TOOL_COLUMNS)
    row = await conn.fetchrow(
        f"select c.title, c.published_at, c.withdrawn_at, c.doc::text, {cols}"
        " from comparisons c join tools a on a.slug = c.tool_a join tools b on b.slug = c.tool_b"
        " where c.slug = $1",
        slug,
    )
    if row is None:
        raise UnknownComparisonError(slug)
    n = len(_TOOL_COLUMNS)
    tools = tuple(Tool(**dict(zip(_TOOL_COLUMNS, row[i : i + n], strict=True))) for i in (4, 4 + n))
    return _Entry(slug, row[0], row[1], row[2], _doc_decoder.decode(row[3]), tools)


async def comparison_tools(conn: Connection, slug: str) -> tuple[str, str]:
    """The two tools of a comparison; ``UnknownComparisonError`` if there is none."""
    row = await conn.fetchrow("select tool_a, tool_b from comparisons where slug = $1", slug)
    if row is None:
        raise UnknownComparisonError(slug)
    return row[0], row[1]


async def comparison_with_history(
    conn: Connection, slug: str, *, today: date
) -> tuple[Comparison, list[ToolHistory]]:
    """One comparison with both tools, panel and community, and the ``HISTORY_DAYS``
    up to ``today`` of ``ship_history``, in two statements: the current tally is the
    history's last point. ``UnknownComparisonError`` if there is none."""
    entry = await _catalog_entry(conn, slug)
    since = today - timedelta(days=HISTORY_DAYS - 1)
    history = await ship_history(conn, slug, [t.slug for t in entry.tools], since=since)
    tallies = {
        h.tool: Tally.of(h.points[-1].ship, h.points[-1].skip) if h.points else Tally.of(0, 0)
        for h in history
    }
    return entry.with_tallies(tallies), history


async def ship_history(
    conn: Connection, comparison: str, tools: list[str], *, since: date | None = None
) -> list[ToolHistory]:
    """Each tool's standing ship/skip counts at the end of every day it changed; with
    ``since``, the first point (on that day) stands for everything before it."""
    subjects = {tally_subject(comparison, t): t for t in tools}
    running = {t: {"ship": 0, "skip": 0} for t in tools}
    points: dict[str, list[HistoryPoint]] = {t: [] for t in tools}
    changes = await daily(conn, ("ship", "skip"), list(subjects), since=since)
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


async def bookmarked_tools(conn: Connection, state: ReaderState) -> list[Tool]:
    """The reader's bookmarked tools, in the order they were bookmarked."""
    tools = await tools_by_slug(conn, state.bookmarks)
    return [tools[s] for s in state.bookmarks if s in tools]


async def comparisons_with_tool(conn: Connection, tool: str) -> list[tuple[str, str]]:
    """(slug, title) of live comparisons that include ``tool``, newest first."""
    rows = await conn.fetch(
        "select slug, title from comparisons where withdrawn_at is null"
        " and $1 in (tool_a, tool_b) order by published_at desc",
        tool,
    )
    return [(r[0], r[1]) for r in rows]
