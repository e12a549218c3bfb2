"""What a projection is, and where it writes.

A projection folds events into a state object with one pure ``apply``. The same fold
serves both paths:

- inline (in the append transaction) and catch-up: ``load`` the slice of rows the
  events touch, ``apply``, then ``flush`` only what changed;
- replay: start from ``empty()``, ``apply`` the whole log in memory, ``dump`` it into
  fresh tables with COPY.

So incremental and replayed state cannot drift by construction of the code; the
property tests and ``verify`` (which recomputes from SQL over the log) check it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

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


def upsert_sql(
    table: str, columns: Sequence[str], key: Sequence[str], keep: Sequence[str] = ()
) -> str:
    """``insert ... on conflict (key) do update`` of every column but ``key`` and ``keep``,
    one ``$n`` parameter per column in order."""
    params = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
    skip = {*key, *keep}
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in skip)
    return (
        f"insert into {table} ({', '.join(columns)}) values ({params})"
        f" on conflict ({', '.join(key)}) do update set {updates}"
    )


class Projection(Protocol[S]):
    """A read model that can be maintained inline and rebuilt from the log."""

    name: str
    tables: tuple[str, ...]
    handles: frozenset[str]

    def empty(self) -> S: ...

    async def load(self, conn: Connection, into: TableSet, events: Sequence[Recorded]) -> S: ...

    def apply(self, state: S, rec: Recorded) -> None: ...

    async def flush(self, conn: Connection, into: TableSet, state: S) -> None: ...

    async def dump(self, conn: Connection, into: TableSet, state: S) -> None: ...


async def project(
    conn: Connection, projection: Projection[S], into: TableSet, events: Sequence[Recorded]
) -> None:
    """Apply ``events`` to the tables ``into`` on ``conn`` (inline and catch-up path)."""
    relevant = [e for e in events if e.type in projection.handles]
    if not relevant:
        return
    state = await projection.load(conn, into, relevant)
    for rec in relevant:
        projection.apply(state, rec)
    await projection.flush(conn, into, state)
