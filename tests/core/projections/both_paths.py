"""The ways a projection's tables are filled from the same events, for the property
tests that they agree:

- inline: ``project`` into the live tables, one transaction per batch (how appends and
  group commits keep them);
- replay: ``empty()``, ``apply`` every event it handles, ``dump`` into ``__rebuild``
  copies made as ``services/core/replay.py`` makes them;
- catch-up: replay a prefix of the log, then ``project`` the rest in batches into the
  same copies (what replay does with events appended while it rebuilds).

Also a builder of logs of ``Recorded`` events: positions and ``recorded_at`` increasing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.core.events import Event, type_name
from services.core.projections.base import (
    LIVE_TABLES,
    REBUILD_TABLES,
    Projection,
    TableSet,
    project,
)
from services.core.store import Connection, Recorded

START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
CATCH_UP_TABLES = TableSet("__catchup")
"""Copies that are replayed up to a point, then caught up batch by batch."""
ALL_TABLES = (LIVE_TABLES, REBUILD_TABLES, CATCH_UP_TABLES)

Rows = Counter[tuple[Any, ...]]


@dataclass
class Log:
    """A log being written: each event one step after the one before."""

    at: datetime = START
    records: list[Recorded] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    def add(
        self, stream_id: str, event: Event, after: timedelta = timedelta(minutes=1)
    ) -> Recorded:
        assert after > timedelta(0)
        self.at += after
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        position = len(self.records) + 1
        rec = Recorded(
            position, 1000 + position, stream_id, version, type_name(event), event, self.at
        )
        self.records.append(rec)
        return rec


def batches(records: Sequence[Recorded], sizes: Sequence[int]) -> list[list[Recorded]]:
    """``records`` cut into consecutive batches of ``sizes`` (cycled; at least one each)."""
    out: list[list[Recorded]] = []
    i = 0
    n = 0
    while i < len(records):
        size = max(1, sizes[n % len(sizes)]) if sizes else 1
        out.append(list(records[i : i + size]))
        i += size
        n += 1
    return out


async def reset(conn: Connection, projection: Projection[Any]) -> None:
    """Empty live tables, and empty rebuild and catch-up copies of them."""
    for t in projection.tables:
        # As replay builds beside: no indexes while the copy is loaded with COPY.
        await conn.execute(
            f"create table if not exists {REBUILD_TABLES.quoted(t)}"
            f" (like {LIVE_TABLES.quoted(t)} including all excluding indexes)"
        )
        # Catch-up runs after replay gave the copy the live table's keys and indexes.
        await conn.execute(
            f"create table if not exists {CATCH_UP_TABLES.quoted(t)}"
            f" (like {LIVE_TABLES.quoted(t)} including all)"
        )
    tables = [into.quoted(t) for t in projection.tables for into in ALL_TABLES]
    await conn.execute(f"truncate {', '.join(tables)} restart identity")


async def inline(
    conn: Connection,
    projection: Projection[Any],
    into: TableSet,
    batched: Iterable[Sequence[Recorded]],
) -> None:
    for batch in batched:
        async with conn.transaction():
            await project(conn, [projection], into, batch)


async def replayed(
    conn: Connection, projection: Projection[Any], into: TableSet, records: Sequence[Recorded]
) -> None:
    state = projection.empty()
    for rec in records:
        if rec.type in projection.handles:
            projection.apply(state, rec)
    async with conn.transaction():
        await projection.dump(conn, into, state)


async def all_paths(
    conn: Connection,
    projection: Projection[Any],
    records: Sequence[Recorded],
    batched: Sequence[Sequence[Recorded]],
    replayed_batches: int,
) -> None:
    """Fill the live tables inline with ``batched``, the rebuild tables by replay of
    all ``records``, and the catch-up tables by replay of the first
    ``replayed_batches`` batches and ``project`` of the others."""
    await reset(conn, projection)
    await inline(conn, projection, LIVE_TABLES, batched)
    await replayed(conn, projection, REBUILD_TABLES, records)
    k = min(replayed_batches, len(batched))
    await replayed(conn, projection, CATCH_UP_TABLES, [r for b in batched[:k] for r in b])
    await inline(conn, projection, CATCH_UP_TABLES, batched[k:])


async def rows(conn: Connection, into: TableSet, table: str) -> Rows:
    """Every row of ``table`` in ``into``, order-insensitive."""
    return Counter(tuple(r) for r in await conn.fetch(f"select * from {into.quoted(table)}"))


async def assert_same_tables(conn: Connection, tables: Sequence[str]) -> None:
    for t in tables:
        live = await rows(conn, LIVE_TABLES, t)
        assert live == await rows(conn, REBUILD_TABLES, t), f"{t}: inline != replay"
        assert live == await rows(conn, CATCH_UP_TABLES, t), f"{t}: inline != catch-up"
