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
from datetime import datetime
from typing import Any, Protocol, TypeVar

from ..events import Event
from ..sql import Query, Write, chained, combined, merged, rows_of
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


class Happened(Pending, Protocol):
    """An event with when it was recorded: what ``apply`` folds (a ``Recorded``, or an
    append stamped before it is written)."""

    @property
    def recorded_at(self) -> datetime: ...


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

    def apply(self, state: S, rec: Happened) -> None: ...

    def writes(self, into: TableSet, state: S) -> list[Write]:
        """What ``apply`` changed in ``state``, to store (and then forget)."""
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


def fold(
    loads: Sequence[tuple[Projection[Any], list[Query]]],
    rows: Sequence[Sequence[Sequence[Any]]],
    into: TableSet,
    events: Sequence[Happened],
) -> list[Write]:
    """Fold ``events`` into the states ``rows`` (the results of ``loads``, in order)
    hold; what changed, to write."""
    return fold_each(loads, rows, into, [events], tagged=False)


def fold_each(
    loads: Sequence[tuple[Projection[Any], list[Query]]],
    rows: Sequence[Sequence[Sequence[Any]]],
    into: TableSet,
    requests: Sequence[Sequence[Happened]],
    *,
    tagged: bool = True,
) -> list[Write]:
    """``fold`` request by request, each request's writes tagged with its index, so
    that a statement can store the writes of only the requests it appended. The
    requests' streams must be distinct: every projection row belongs to one stream
    (the counters excepted, which take additive deltas)."""
    states = []
    at = 0
    for p, queries in loads:
        states.append((p, p.loaded(rows[at : at + len(queries)])))
        at += len(queries)
    writes: list[Write] = []
    for n, events in enumerate(requests):
        for p, state in states:
            for event in relevant(p, events):
                p.apply(state, event)
            writes.extend(w.for_request(n) if tagged else w for w in p.writes(into, state))
    return merged(writes)


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
    writes = fold(loads, rows_of(found or ()), into, events)
    if writes:
        statement = chained([w.query() for w in writes])
        await conn.execute(statement.sql, *statement.args)
