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
class Tables:
    """Physical table names: the live ones, or the ``__rebuild`` copies replay fills."""

    suffix: str = ""

    def __call__(self, logical: str) -> str:
        """The quoted identifier, for SQL text."""
        return f'"{self.raw(logical)}"'

    def raw(self, logical: str) -> str:
        """The bare name, for asyncpg's COPY helpers."""
        return f"{logical}{self.suffix}"


LIVE = Tables()
REBUILD = Tables("__rebuild")


class Projection(Protocol[S]):
    """A read model that can be maintained inline and rebuilt from the log."""

    name: str
    tables: tuple[str, ...]
    handles: frozenset[str]

    def empty(self) -> S: ...

    async def load(self, conn: Connection, t: Tables, events: Sequence[Recorded]) -> S: ...

    def apply(self, state: S, rec: Recorded) -> None: ...

    async def flush(self, conn: Connection, t: Tables, state: S) -> None: ...

    async def dump(self, conn: Connection, t: Tables, state: S) -> None: ...


async def project(
    conn: Connection, projection: Projection[S], t: Tables, events: Sequence[Recorded]
) -> None:
    """Apply ``events`` to the tables ``t`` on ``conn`` (inline and catch-up path)."""
    relevant = [e for e in events if e.type in projection.handles]
    if not relevant:
        return
    state = await projection.load(conn, t, relevant)
    for rec in relevant:
        projection.apply(state, rec)
    await projection.flush(conn, t, state)
