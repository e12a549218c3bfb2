"""Rebuilding projections from the log while the system keeps serving.

1. **Build beside**: create empty ``<table>__rebuild`` copies, fold the whole log into
   memory with each projection's own ``apply``, and COPY the result in.
2. **Catch up**: apply what was appended meanwhile to the copies, in pages, through
   the same load/apply/flush path the inline projections use.
3. **Swap**: in one transaction, close the write gate (in-flight writers finish, new
   ones wait before taking any table lock), lock the live tables (in-flight one-statement
   group appends finish, new ones wait), apply the last few events, and rename the
   copies over the live tables. Writers and readers pause only for that last step
   (milliseconds), never for the rebuild.
"""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from .errors import VerdictsError
from .projections.base import LIVE_TABLES, REBUILD_TABLES, Projection, project
from .store import Connection, Cursor, EventStore
from .writes import INLINE_PROJECTIONS, STORE, close_write_gate

PROJECTIONS: dict[str, Projection[Any]] = {p.name: p for p in INLINE_PROJECTIONS}

Progress = Callable[[int, int], None]
"""Called with (events applied so far, events in the log when the replay started)."""


class UnknownProjectionError(VerdictsError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}")
        self.name = name


@dataclass(frozen=True)
class ReplayReport:
    projections: tuple[str, ...]
    events: int
    caught_up: int
    swapped_at: Cursor


def resolve(names: Sequence[str]) -> list[Projection[Any]]:
    """The projections called ``names`` (all of them when empty)."""
    if not names:
        return list(PROJECTIONS.values())
    missing = [n for n in names if n not in PROJECTIONS]
    if missing:
        raise UnknownProjectionError(missing[0])
    return [PROJECTIONS[n] for n in names]


async def replay(
    conn: Connection,
    names: Sequence[str] = (),
    *,
    store: EventStore = STORE,
    page: int = 10_000,
    on_progress: Progress | None = None,
) -> ReplayReport:
    """Rebuild ``names`` (default: all) from position 0 and swap them in."""
    projections = resolve(names)
    tables = [t for p in projections for t in p.tables]
    await _create_rebuild_tables(conn, tables)
    cursor, seen = await _build_beside(conn, store, projections, tables, page, on_progress)
    cursor, caught_up = await _catch_up(conn, store, projections, cursor, page)
    cursor, last = await _swap_in(conn, store, projections, tables, cursor, page)
    caught_up += last
    if on_progress:
        on_progress(seen + caught_up, seen + caught_up)
    return ReplayReport(tuple(p.name for p in projections), seen, caught_up, cursor)


async def _create_rebuild_tables(conn: Connection, tables: list[str]) -> None:
    for t in tables:
        # Indexes come after the bulk load: COPY into an indexed table took 3x longer.
        await conn.execute(
            f"drop table if exists {REBUILD_TABLES.quoted(t)};"
            f" create table {REBUILD_TABLES.quoted(t)}"
            f" (like {LIVE_TABLES.quoted(t)} including all excluding indexes)"
        )


async def _build_beside(
    conn: Connection,
    store: EventStore,
    projections: list[Projection[Any]],
    tables: list[str],
    page: int,
    on_progress: Progress | None,
) -> tuple[Cursor, int]:
    """Fold the whole settled log in memory and COPY it into the rebuild tables;
    returns where the fold stopped and how many events it applied."""
    total: int = await conn.fetchval("select count(*) from events")
    states = [(p, p.empty()) for p in projections]
    cursor, seen = Cursor(), 0
    # The fold allocates millions of acyclic objects (rows, events, state entries),
    # which drive the cyclic collector into ever longer full passes: it more than
    # doubled the fold's time. Nothing here makes cycles, so it is paused meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        async for batch in store.tail(conn, cursor, page=page):
            for rec in batch:
                for p, state in states:
                    if rec.type in p.handles:
                        p.apply(state, rec)
            seen += len(batch)
            cursor = batch[-1].cursor
            if on_progress:
                on_progress(seen, max(total, seen))
        async with conn.transaction():
            for p, state in states:
                await p.dump(conn, REBUILD_TABLES, state)
            for t in tables:
                await _copy_indexes(conn, t)
    finally:
        if collecting:
            gc.enable()
    return cursor, seen


async def _catch_up(
    conn: Connection,
    store: EventStore,
    projections: list[Projection[Any]],
    cursor: Cursor,
    page: int,
) -> tuple[Cursor, int]:
    """Apply what was appended during the build to the rebuild tables, page by page."""
    caught_up = 0
    while batch := await store.read_after(conn, cursor, limit=page):
        async with conn.transaction():
            await project(conn, projections, REBUILD_TABLES, batch)
        caught_up += len(batch)
        cursor = batch[-1].cursor
    return cursor, caught_up


async def _swap_in(
    conn: Connection,
    store: EventStore,
    projections: list[Projection[Any]],
    tables: list[str],
    cursor: Cursor,
    page: int,
) -> tuple[Cursor, int]:
    """``_swap``, given way to readers that hold a table for longer than the lock
    timeout, and tried again."""
    for attempt in range(_SWAP_ATTEMPTS):
        try:
            return await _swap(conn, store, projections, tables, cursor, page)
        except asyncpg.exceptions.LockNotAvailableError:
            # A reader held a table we must rename for longer than lock_timeout; we
            # gave way (rather than risk a deadlock that could abort the reader).
            if attempt == _SWAP_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable: _SWAP_ATTEMPTS >= 1")


_SWAP_ATTEMPTS = 20

_INDEXES = (
    "select pg_get_indexdef(i.indexrelid), pg_get_constraintdef(c.oid) from pg_index i"
    " left join pg_constraint c on c.conindid = i.indexrelid and c.conrelid = i.indrelid"
    " where i.indrelid = $1::regclass order by i.indexrelid"
)
_INDEX_HEAD = re.compile(r"^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ")


async def _copy_indexes(conn: Connection, table: str) -> None:
    """Give the rebuilt ``table`` the live one's keys, unique constraints and indexes."""
    for indexdef, constraintdef in await conn.fetch(_INDEXES, LIVE_TABLES.quoted(table)):
        if constraintdef is not None:
            await conn.execute(f"alter table {REBUILD_TABLES.quoted(table)} add {constraintdef}")
        else:
            head = _INDEX_HEAD.match(indexdef)
            assert head is not None, indexdef
            unique = head[1] or ""
            await conn.execute(
                f"CREATE {unique}INDEX ON {REBUILD_TABLES.quoted(table)} {indexdef[head.end() :]}"
            )


async def _swap(
    conn: Connection,
    store: EventStore,
    projections: list[Projection[Any]],
    tables: list[str],
    cursor: Cursor,
    page: int,
) -> tuple[Cursor, int]:
    """Apply the last events and rename the rebuilt tables over the live ones."""
    applied = 0
    async with conn.transaction():
        await close_write_gate(conn)
        await conn.execute("set local lock_timeout = '500ms'")
        # The group commit's one-statement appends take no gate: the live tables'
        # locks, taken before the last read, wait for those in flight and hold back new
        # ones (a statement takes all its locks before it inserts an event).
        live = ", ".join(LIVE_TABLES.quoted(t) for t in tables)
        await conn.execute(f"lock table {live} in access exclusive mode")
        # No writer of these tables is in flight now, so every event they need is
        # settled: read without the xmin bound.
        while batch := await store.read_after(conn, cursor, limit=page, settled_only=False):
            await project(conn, projections, REBUILD_TABLES, batch)
            applied += len(batch)
            cursor = batch[-1].cursor
        for t in tables:
            await conn.execute(
                f"alter table {LIVE_TABLES.quoted(t)} rename to {t}__old;"
                f" alter table {REBUILD_TABLES.quoted(t)} rename to {t};"
                f" drop table {t}__old"
            )
    return cursor, applied
