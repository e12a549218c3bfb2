"""Catalog read model: tools and comparisons as currently published."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from ..events import (
    ComparisonPublished,
    ComparisonRevised,
    ComparisonWithdrawn,
    Review,
    Side,
    ToolListed,
)
from ..store import Connection, Recorded
from .base import Tables


class ComparisonDoc(msgspec.Struct, frozen=True, kw_only=True):
    sides: tuple[Side, ...]
    reviews: tuple[Review, ...]


@dataclass(slots=True)
class ToolRow:
    slug: str
    name: str
    vendor: str
    category: str
    tagline: str
    description: str
    pricing_entry: str
    listed_at: datetime
    revised_at: datetime


@dataclass(slots=True)
class ComparisonRow:
    slug: str
    title: str
    published_at: datetime
    tool_a: str
    tool_b: str
    doc: ComparisonDoc
    withdrawn_at: datetime | None = None


@dataclass(slots=True)
class CatalogState:
    tools: dict[str, ToolRow] = field(default_factory=dict)
    comparisons: dict[str, ComparisonRow] = field(default_factory=dict)
    dirty_tools: set[str] = field(default_factory=set)
    dirty_comparisons: set[str] = field(default_factory=set)


_doc_encoder = msgspec.json.Encoder()
_doc_decoder = msgspec.json.Decoder(ComparisonDoc)

_TOOL_COLS = (
    "slug, name, vendor, category, tagline, description, pricing_entry, listed_at, revised_at"
)
_CMP_COLS = "slug, title, published_at, tool_a, tool_b, doc, withdrawn_at"


def _slug_of(rec: Recorded) -> str:
    return rec.stream_id.split("-", 1)[1]


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

    async def load(self, conn: Connection, t: Tables, events: Sequence[Recorded]) -> CatalogState:
        state = CatalogState()
        tools = [_slug_of(e) for e in events if e.stream_id.startswith("tool-")]
        cmps = [_slug_of(e) for e in events if e.stream_id.startswith("comparison-")]
        for r in await conn.fetch(
            f"select {_TOOL_COLS} from {t('tools')} where slug = any($1)", tools
        ):
            state.tools[r[0]] = ToolRow(*r)
        for r in await conn.fetch(
            f"select slug, title, published_at, tool_a, tool_b, doc::text, withdrawn_at "
            f"from {t('comparisons')} where slug = any($1)",
            cmps,
        ):
            state.comparisons[r[0]] = ComparisonRow(
                r[0], r[1], r[2], r[3], r[4], _doc_decoder.decode(r[5]), r[6]
            )
        return state

    def apply(self, state: CatalogState, rec: Recorded) -> None:
        ev = rec.event
        if isinstance(ev, ToolListed):  # ToolRevised subclasses it
            listed = state.tools[ev.slug].listed_at if ev.slug in state.tools else rec.recorded_at
            state.tools[ev.slug] = ToolRow(
                ev.slug,
                ev.name,
                ev.vendor,
                ev.category,
                ev.tagline,
                ev.description,
                ev.pricing_entry,
                listed,
                rec.recorded_at,
            )
            state.dirty_tools.add(ev.slug)
        elif isinstance(ev, ComparisonPublished):  # ComparisonRevised subclasses it
            old = state.comparisons.get(ev.slug)
            state.comparisons[ev.slug] = ComparisonRow(
                ev.slug,
                ev.title,
                ev.published_at,
                ev.tools[0],
                ev.tools[1],
                ComparisonDoc(sides=ev.sides, reviews=ev.reviews),
                old.withdrawn_at if old and isinstance(ev, ComparisonRevised) else None,
            )
            state.dirty_comparisons.add(ev.slug)
        elif isinstance(ev, ComparisonWithdrawn) and ev.slug in state.comparisons:
            state.comparisons[ev.slug].withdrawn_at = rec.recorded_at
            state.dirty_comparisons.add(ev.slug)

    async def flush(self, conn: Connection, t: Tables, state: CatalogState) -> None:
        tools = [state.tools[s] for s in sorted(state.dirty_tools)]
        if tools:
            await conn.executemany(
                f"insert into {t('tools')} ({_TOOL_COLS}) values ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                " on conflict (slug) do update set name = excluded.name,"
                " vendor = excluded.vendor, category = excluded.category,"
                " tagline = excluded.tagline, description = excluded.description,"
                " pricing_entry = excluded.pricing_entry, revised_at = excluded.revised_at",
                [_tool_tuple(r) for r in tools],
            )
        cmps = [state.comparisons[s] for s in sorted(state.dirty_comparisons)]
        if cmps:
            await conn.executemany(
                f"insert into {t('comparisons')} ({_CMP_COLS})"
                " values ($1,$2,$3,$4,$5,$6::jsonb,$7)"
                " on conflict (slug) do update set title = excluded.title,"
                " published_at = excluded.published_at, tool_a = excluded.tool_a,"
                " tool_b = excluded.tool_b, doc = excluded.doc,"
                " withdrawn_at = excluded.withdrawn_at",
                [_cmp_tuple(r) for r in cmps],
            )
        state.dirty_tools.clear()
        state.dirty_comparisons.clear()

    async def dump(self, conn: Connection, t: Tables, state: CatalogState) -> None:
        await conn.copy_records_to_table(
            t.raw("tools"),
            records=[_tool_tuple(r) for r in state.tools.values()],
            columns=[c.strip() for c in _TOOL_COLS.split(",")],
        )
        await conn.copy_records_to_table(
            t.raw("comparisons"),
            records=[_cmp_tuple(r) for r in state.comparisons.values()],
            columns=[c.strip() for c in _CMP_COLS.split(",")],
        )
        state.dirty_tools.clear()
        state.dirty_comparisons.clear()


def _tool_tuple(r: ToolRow) -> tuple[object, ...]:
    return (
        r.slug,
        r.name,
        r.vendor,
        r.category,
        r.tagline,
        r.description,
        r.pricing_entry,
        r.listed_at,
        r.revised_at,
    )


def _cmp_tuple(r: ComparisonRow) -> tuple[object, ...]:
    return (
        r.slug,
        r.title,
        r.published_at,
        r.tool_a,
        r.tool_b,
        _doc_encoder.encode(r.doc).decode(),
        r.withdrawn_at,
    )


CATALOG = CatalogProjection()
