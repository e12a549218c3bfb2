"""What a projection is, and where it writes.

A projection folds events into a state object with one pure ``apply``. The same fold
serves both paths:

- inline (in the append transaction) and catch-up: ``loads`` select the slice of rows
  the events touch, ``apply`` folds the events into it, ``writes`` put back only what
  changed;
- replay: start from ``empty()``, ``apply`` the whole log in memory, ``dump`` it into
  fresh tables with COPY.

So incremental and replayed state cannot drift by construction of the code; the
property tests and ``verify`` (which recomputes from SQL over the log) check it.

Loads and writes are statements a projection returns rather than runs, so that every
projection's loads go to the database as one statement (with the events' insert, on
the group commit's path) and all their writes as another: a write costs the same few
round trips however many projections it feeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..events import Event
from ..sql import Query, chained, combined, rows_of
from ..store import Connection, Recorded

S = TypeVar("S")


@dataclass(frozen=True)
class TableSet:
    """Where a projection writes: the live tables, or the ``__rebuild`` copies replay fills."""

    suffix: str = ""

    def quoted(self, table: str) -> str:
        """The physical table's quoted identifier, for SQL text."""
        return f'"{self.bare(table)}"'

    def bare(self, table: str) -> str:
        """The physical table's bare name, for asyncpg's COPY helpers."""
        return f"{table}{self.suffix}"


LIVE_TABLES = TableSet()
REBUILD_TABLES = TableSet("__rebuild")


class Pending(Protocol):
    """An event with its stream: enough to know which rows it touches (a ``Recorded``,
    or an append not yet written)."""

    @property
    def stream_id(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def event(self) -> Event: ...


class Projection(Protocol[S]):
    """A read model that can be maintained inline and rebuilt from the log."""

    name: str
    tables: tuple[str, ...]
    handles: frozenset[str]

    def empty(self) -> S: ...

    def loads(self, into: TableSet, events: Sequence[Pending]) -> list[Query]:
        """Selects of the rows ``events`` (all of this projection's) touch."""
        ...

    def loaded(self, rows: Sequence[Sequence[Sequence[Any]]]) -> S:
        """The state the rows of ``loads`` (one list per query, in order) hold."""
        ...

    def apply(self, state: S, rec: Recorded) -> None: ...

    def writes(self, into: TableSet, state: S) -> list[Query]:
        """Statements that store what ``apply`` changed in ``state``."""
        ...

    async def dump(self, conn: Connection, into: TableSet, state: S) -> None: ...


def relevant(projection: Projection[Any], events: Sequence[Pending]) -> list[Any]:
    """The events among ``events`` that ``projection`` folds."""
    return [e for e in events if e.type in projection.handles]


def load_queries(
    projections: Sequence[Projection[Any]], into: TableSet, events: Sequence[Pending]
) -> list[tuple[Projection[Any], list[Query]]]:
    """Each projection that ``events`` concern, with its load queries."""
    out = []
    for p in projections:
        mine = relevant(p, events)
        if mine:
            out.append((p, p.loads(into, mine)))
    return out


async def fold_and_write(
    conn: Connection,
    loads: Sequence[tuple[Projection[Any], list[Query]]],
    rows: Sequence[Sequence[Sequence[Any]]],
    into: TableSet,
    events: Sequence[Recorded],
) -> None:
    """Fold ``events`` into the states ``rows`` (the results of ``loads``, in order)
    hold, and store what changed, all projections in one statement."""
    writes: list[Query] = []
    at = 0
    for p, queries in loads:
        state = p.loaded(rows[at : at + len(queries)])
        at += len(queries)
        for rec in relevant(p, events):
            p.apply(state, rec)
        writes.extend(p.writes(into, state))
    if writes:
        statement = chained(writes)
        await conn.execute(statement.sql, *statement.args)


async def project(
    conn: Connection,
    projections: Sequence[Projection[Any]],
    into: TableSet,
    events: Sequence[Recorded],
) -> None:
    """Apply ``events`` to the tables ``into`` on ``conn`` (inline and catch-up path):
    one statement loads for every projection, one writes."""
    loads = load_queries(projections, into, events)
    if not loads:
        return
    selects = [q for _, queries in loads for q in queries]
    statement = combined(None, selects)
    found = await conn.fetchrow(statement.sql, *statement.args)
    await fold_and_write(conn, loads, rows_of(found or ()), into, events)
