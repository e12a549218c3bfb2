"""Catalog read model: tools and comparisons as currently published.

``tools`` has a column per field of ``events.Tool`` (``TOOL_COLUMNS``) plus when it was
listed and last revised; ``comparisons`` keeps each side's notes and the panel's
reviews as one jsonb ``doc`` (``ComparisonDoc``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from ..events import (
    TOOL_FIELDS,
    ComparisonPublished,
    ComparisonRevised,
    ComparisonWithdrawn,
    Review,
    SideNotes,
    Tool,
    ToolListed,
)
from ..sql import Column, Query, Write, upsert
from ..store import Connection
from ..streams import COMPARISON, TOOL
from .base import Happened, Pending, TableSet

TOOL_COLUMNS = ", ".join(TOOL_FIELDS)
"""The ``tools`` columns that hold a ``Tool``, in its field order."""


class ComparisonDoc(msgspec.Struct, frozen=True, kw_only=True):
    """The ``comparisons.doc`` column: each side's notes and the panel's reviews."""

    sides: tuple[SideNotes, ...]
    reviews: tuple[Review, ...]


_doc_encoder = msgspec.json.Encoder()
_doc_decoder = msgspec.json.Decoder(ComparisonDoc)


def decode_doc(text: str | bytes) -> ComparisonDoc:
    """A ``comparisons.doc`` value, as read with ``doc::text``."""
    return _doc_decoder.decode(text)


def tool_of(row: Sequence[object]) -> Tool:
    """The ``Tool`` in a row whose first columns are ``TOOL_COLUMNS``."""
    return Tool(**dict(zip(TOOL_FIELDS, row[: len(TOOL_FIELDS)], strict=True)))  # type: ignore[arg-type]


@dataclass(slots=True)
class ToolRow:
    tool: Tool
    listed_at: datetime
    revised_at: datetime

    def values(self) -> tuple[object, ...]:
        return (*(getattr(self.tool, f) for f in TOOL_FIELDS), self.listed_at, self.revised_at)


_TOOL_ROW_COLUMNS = (
    *(Column(f, "text") for f in TOOL_FIELDS),
    Column("listed_at", "timestamptz"),
    Column("revised_at", "timestamptz"),
)


@dataclass(slots=True)
class ComparisonRow:
    slug: str
    title: str
    published_at: datetime
    tool_a: str
    tool_b: str
    doc: ComparisonDoc
    withdrawn_at: datetime | None = None

    def values(self) -> tuple[object, ...]:
        doc = _doc_encoder.encode(self.doc).decode()
        return (
            self.slug,
            self.title,
            self.published_at,
            self.tool_a,
            self.tool_b,
            doc,
            self.withdrawn_at,
        )


_CMP_COLUMNS = (
    Column("slug", "text"),
    Column("title", "text"),
    Column("published_at", "timestamptz"),
    Column("tool_a", "text"),
    Column("tool_b", "text"),
    Column("doc", "jsonb"),
    Column("withdrawn_at", "timestamptz"),
)


@dataclass(slots=True)
class CatalogState:
    tools: dict[str, ToolRow] = field(default_factory=dict)
    comparisons: dict[str, ComparisonRow] = field(default_factory=dict)
    dirty_tools: set[str] = field(default_factory=set)
    dirty_comparisons: set[str] = field(default_factory=set)


class CatalogProjection:
    """Maintains ``tools`` and ``comparisons``."""

    name = "catalog"
    tables: tuple[str, ...] = ("tools", "comparisons")
    handles: frozenset[str] = frozenset(
        {
            "ToolListed",
            "ToolRevised",
            "ComparisonPublished",
            "ComparisonRevised",
            "ComparisonWithdrawn",
        }
    )

    def empty(self) -> CatalogState:
        return CatalogState()

    def loads(self, into: TableSet, events: Sequence[Pending]) -> list[Query]:
        tools = [TOOL.key(e.stream_id) for e in events if TOOL.holds(e.stream_id)]
        cmps = [COMPARISON.key(e.stream_id) for e in events if COMPARISON.holds(e.stream_id)]
        return [
            Query(
                f"select {', '.join(c.name for c in _TOOL_ROW_COLUMNS)}"
                f" from {into.quoted('tools')} where slug = any($1)",
                (tools,),
            ),
            Query(
                "select slug, title, published_at, tool_a, tool_b, doc::text, withdrawn_at"
                f" from {into.quoted('comparisons')} where slug = any($1)",
                (cmps,),
            ),
        ]

    def loaded(self, rows: Sequence[Sequence[Sequence[Any]]]) -> CatalogState:
        tools, comparisons = rows
        n = len(TOOL_FIELDS)
        state = CatalogState()
        state.tools = {r[0]: ToolRow(tool_of(r), r[n], r[n + 1]) for r in tools}
        state.comparisons = {
            r[0]: ComparisonRow(r[0], r[1], r[2], r[3], r[4], decode_doc(r[5]), r[6])
            for r in comparisons
        }
        return state

    def apply(self, state: CatalogState, rec: Happened) -> None:
        ev = rec.event
        if isinstance(ev, ToolListed):  # ToolRevised subclasses it
            old = state.tools.get(ev.slug)
            tool = Tool(**msgspec.structs.asdict(ev))
            listed = old.listed_at if old else rec.recorded_at
            state.tools[ev.slug] = ToolRow(tool, listed, rec.recorded_at)
            state.dirty_tools.add(ev.slug)
        elif isinstance(ev, ComparisonPublished):  # ComparisonRevised subclasses it
            prior = state.comparisons.get(ev.slug)
            state.comparisons[ev.slug] = ComparisonRow(
                ev.slug,
                ev.title,
                ev.published_at,
                ev.tools[0],
                ev.tools[1],
                ComparisonDoc(sides=ev.sides, reviews=ev.reviews),
                prior.withdrawn_at if prior and isinstance(ev, ComparisonRevised) else None,
            )
            state.dirty_comparisons.add(ev.slug)
        elif isinstance(ev, ComparisonWithdrawn) and ev.slug in state.comparisons:
            state.comparisons[ev.slug].withdrawn_at = rec.recorded_at
            state.dirty_comparisons.add(ev.slug)

    def writes(self, into: TableSet, state: CatalogState) -> list[Write]:
        tools = [state.tools[s].values() for s in sorted(state.dirty_tools)]
        cmps = [state.comparisons[s].values() for s in sorted(state.dirty_comparisons)]
        state.dirty_tools.clear()
        state.dirty_comparisons.clear()
        out = []
        if tools:
            table = into.quoted("tools")
            out.append(upsert(table, _TOOL_ROW_COLUMNS, ["slug"], tools, keep=["listed_at"]))
        if cmps:
            out.append(upsert(into.quoted("comparisons"), _CMP_COLUMNS, ["slug"], cmps))
        return out

    async def dump(self, conn: Connection, into: TableSet, state: CatalogState) -> None:
        await conn.copy_records_to_table(
            into.bare("tools"),
            records=[r.values() for r in state.tools.values()],
            columns=[c.name for c in _TOOL_ROW_COLUMNS],
        )
        await conn.copy_records_to_table(
            into.bare("comparisons"),
            records=[r.values() for r in state.comparisons.values()],
            columns=[c.name for c in _CMP_COLUMNS],
        )
        state.dirty_tools.clear()
        state.dirty_comparisons.clear()


CATALOG = CatalogProjection()
