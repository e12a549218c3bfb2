"""Importing the catalog (tools and comparisons) from a JSON or TOML file.

A catalog file lists tools and comparisons in the shapes the events record
(``events.Tool`` and ``events.ComparisonContent``). Import is idempotent: each entry is
compared with what the catalog projection holds, and only new or changed entries
append ``…Listed``/``…Published`` or ``…Revised`` events. Re-importing the same file
appends nothing.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from .errors import CatalogError
from .events import (
    ComparisonContent,
    ComparisonPublished,
    ComparisonRevised,
    Event,
    Tool,
    ToolListed,
    ToolRevised,
)
from .projections.catalog import TOOL_COLUMNS, decode_doc, tool_of
from .resources import package_path
from .store import Connection, Metadata, Pool
from .streams import COMPARISON, TOOL
from .writes import append_at_current_version, gated_transaction

DEMO_CATALOG = package_path("services.core", "demo_catalog.toml")


class CatalogFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tools: list[Tool] = []
    comparisons: list[ComparisonContent] = []


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
    for comparison in catalog.comparisons:
        _check_references(comparison)
    return catalog


def _check_references(c: ComparisonContent) -> None:
    if c.published_at.tzinfo is None:
        raise CatalogError(f"comparison {c.slug}: published_at needs a time zone")
    if c.tools[0] == c.tools[1]:
        raise CatalogError(f"comparison {c.slug}: compares {c.tools[0]} with itself")
    for tool in [s.tool for s in c.sides] + [r.tool for r in c.reviews]:
        if tool not in c.tools:
            raise CatalogError(f"comparison {c.slug}: {tool!r} is not one of its tools {c.tools}")
    if sorted(s.tool for s in c.sides) != sorted(c.tools):
        raise CatalogError(f"comparison {c.slug}: needs one side per tool")


async def _current_tool(conn: Connection, slug: str) -> Tool | None:
    row = await conn.fetchrow(f"select {TOOL_COLUMNS} from tools where slug = $1", slug)
    return tool_of(tuple(row)) if row else None


async def _current_comparison(conn: Connection, slug: str) -> ComparisonContent | None:
    row = await conn.fetchrow(
        "select slug, title, published_at, tool_a, tool_b, doc::text from comparisons"
        " where slug = $1",
        slug,
    )
    if row is None:
        return None
    doc = decode_doc(row[5])
    return ComparisonContent(
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
    async with pool.acquire() as conn, gated_transaction(conn):
        for tool in catalog.tools:
            current = await _current_tool(conn, tool.slug)
            if current == tool:
                report.unchanged += 1
                continue
            listing = ToolRevised if current else ToolListed
            await _append(conn, TOOL.name(tool.slug), listing(**msgspec.structs.asdict(tool)), meta)
            (report.revised if current else report.listed).append(f"tool {tool.slug}")
        known = {r[0] for r in await conn.fetch("select slug from tools")}
        for cmp in catalog.comparisons:
            missing = [t for t in cmp.tools if t not in known]
            if missing:
                raise CatalogError(f"comparison {cmp.slug}: unknown tools {missing}")
            current_cmp = await _current_comparison(conn, cmp.slug)
            if current_cmp == cmp:
                report.unchanged += 1
                continue
            publishing = ComparisonRevised if current_cmp else ComparisonPublished
            event = publishing(**msgspec.structs.asdict(cmp))
            await _append(conn, COMPARISON.name(cmp.slug), event, meta)
            (report.revised if current_cmp else report.published).append(f"comparison {cmp.slug}")
    return report


async def _append(conn: Connection, stream: str, event: Event, meta: Metadata) -> None:
    await append_at_current_version(conn, stream, [event], metadata=meta)
