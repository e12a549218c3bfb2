"""Importing the catalog (tools and comparisons) from a JSON or TOML file.

Import is idempotent: each tool and comparison is compared with what the catalog
projection holds, and only new or changed entries append ``…Listed``/``…Published``
or ``…Revised`` events. Re-importing the same file appends nothing.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import msgspec

from .config import PROJECT_ROOT
from .errors import CatalogError
from .events import (
    ComparisonPublished,
    ComparisonRevised,
    Event,
    Review,
    Side,
    ToolListed,
    ToolRevised,
)
from .projections.catalog import ComparisonDoc
from .store import Connection, Metadata, Pool
from .writes import STORE, append, enter_write

DEMO_CATALOG = PROJECT_ROOT / "services" / "core" / "demo_catalog.toml"

Slug = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=100)]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    name: Text
    vendor: Text
    category: Text
    tagline: Text
    description: Text
    pricing_entry: Text


class ReviewSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tool: Slug
    reviewer: Annotated[str, msgspec.Meta(pattern="^(builder|skeptic|founder|futurist)$")]
    score: Annotated[int, msgspec.Meta(ge=0, le=100)]
    verdict: Annotated[str, msgspec.Meta(pattern="^(ship|skip)$")]
    text: Text


class SideSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tool: Slug
    pricing_read: Text
    best_for: Text


class ComparisonSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    slug: Slug
    title: Text
    published_at: datetime
    tools: Annotated[list[Slug], msgspec.Meta(min_length=2, max_length=2)]
    sides: list[SideSpec]
    reviews: list[ReviewSpec]


class CatalogFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tools: list[ToolSpec] = []
    comparisons: list[ComparisonSpec] = []


@dataclass
class ImportReport:
    """What an import appended, by kind; ``unchanged`` counts entries left as they were."""

    listed: list[str] = field(default_factory=list)
    revised: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def appended(self) -> int:
        return len(self.listed) + len(self.revised) + len(self.published)


def load_catalog(path: Path) -> CatalogFile:
    """Parse and validate a catalog file (``.toml`` or ``.json``)."""
    try:
        raw: Any
        if path.suffix == ".toml":
            raw = tomllib.loads(path.read_text())
        elif path.suffix == ".json":
            raw = json.loads(path.read_text())
        else:
            raise CatalogError(f"{path}: catalog files end in .toml or .json")
        catalog = msgspec.convert(raw, CatalogFile, strict=False)
    except (OSError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: {exc}") from None
    except msgspec.ValidationError as exc:
        raise CatalogError(f"{path}: {exc}") from None
    _check_references(catalog)
    return catalog


def _check_references(catalog: CatalogFile) -> None:
    for c in catalog.comparisons:
        if c.published_at.tzinfo is None:
            raise CatalogError(f"comparison {c.slug}: published_at needs a time zone")
        if c.tools[0] == c.tools[1]:
            raise CatalogError(f"comparison {c.slug}: compares {c.tools[0]} with itself")
        for tool in [s.tool for s in c.sides] + [r.tool for r in c.reviews]:
            if tool not in c.tools:
                raise CatalogError(
                    f"comparison {c.slug}: {tool!r} is not one of its tools {c.tools}"
                )
        if sorted(s.tool for s in c.sides) != sorted(c.tools):
            raise CatalogError(f"comparison {c.slug}: needs one side per tool")


def _tool_event(spec: ToolSpec, *, revised: bool) -> ToolListed:
    cls = ToolRevised if revised else ToolListed
    return cls(**msgspec.structs.asdict(spec))


def _comparison_event(spec: ComparisonSpec, *, revised: bool) -> ComparisonPublished:
    cls = ComparisonRevised if revised else ComparisonPublished
    return cls(
        slug=spec.slug,
        title=spec.title,
        published_at=spec.published_at,
        tools=(spec.tools[0], spec.tools[1]),
        sides=tuple(Side(**msgspec.structs.asdict(s)) for s in spec.sides),
        reviews=tuple(msgspec.convert(msgspec.structs.asdict(r), Review) for r in spec.reviews),
    )


async def _current_tool(conn: Connection, slug: str) -> ToolSpec | None:
    row = await conn.fetchrow(
        "select slug, name, vendor, category, tagline, description, pricing_entry"
        " from tools where slug = $1",
        slug,
    )
    return ToolSpec(**dict(row)) if row else None


async def _current_comparison(conn: Connection, slug: str) -> ComparisonPublished | None:
    row = await conn.fetchrow(
        "select slug, title, published_at, tool_a, tool_b, doc::text from comparisons"
        " where slug = $1",
        slug,
    )
    if row is None:
        return None
    doc = msgspec.json.decode(row[5], type=ComparisonDoc)
    return ComparisonPublished(
        slug=row[0],
        title=row[1],
        published_at=row[2],
        tools=(row[3], row[4]),
        sides=doc.sides,
        reviews=doc.reviews,
    )


async def import_catalog(
    pool: Pool, catalog: CatalogFile, *, actor: str = "operator"
) -> ImportReport:
    """Append events for what is new or changed in ``catalog``, in one transaction."""
    report = ImportReport()
    meta = Metadata(actor=actor)
    async with pool.acquire() as conn, conn.transaction():
        await enter_write(conn)
        for tool in catalog.tools:
            current = await _current_tool(conn, tool.slug)
            if current == tool:
                report.unchanged += 1
                continue
            await _append(
                conn, f"tool-{tool.slug}", _tool_event(tool, revised=current is not None), meta
            )
            (report.revised if current else report.listed).append(f"tool {tool.slug}")
        known = {r[0] for r in await conn.fetch("select slug from tools")}
        for cmp in catalog.comparisons:
            missing = [t for t in cmp.tools if t not in known]
            if missing:
                raise CatalogError(f"comparison {cmp.slug}: unknown tools {missing}")
            current_cmp = await _current_comparison(conn, cmp.slug)
            event = _comparison_event(cmp, revised=current_cmp is not None)
            if current_cmp is not None and _same_content(current_cmp, event):
                report.unchanged += 1
                continue
            await _append(conn, f"comparison-{cmp.slug}", event, meta)
            (report.revised if current_cmp else report.published).append(f"comparison {cmp.slug}")
    return report


def _same_content(a: ComparisonPublished, b: ComparisonPublished) -> bool:
    fields = ("slug", "title", "published_at", "tools", "sides", "reviews")
    return all(getattr(a, f) == getattr(b, f) for f in fields)


async def _append(conn: Connection, stream: str, event: Event, meta: Metadata) -> None:
    await append(
        conn,
        stream,
        [event],
        expected_version=await STORE.stream_version(conn, stream),
        metadata=meta,
    )
