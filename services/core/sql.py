"""Statements as values: built by one part of the code, run (or joined into one
statement, one round trip) by another. Arguments are always ``$n`` parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple


class Query(NamedTuple):
    """One SQL statement with its ``$n`` arguments, to run alone or inside another."""

    sql: str
    args: tuple[object, ...] = ()


class Column(NamedTuple):
    """A column and its PostgreSQL type, for the arrays a write unnests."""

    name: str
    type: str


WriteKind = Literal["insert", "upsert", "delete"]

REQUEST = Column("request", "int")
"""The column a write's rows carry when they belong to one request of a group."""


@dataclass(frozen=True, slots=True)
class Write:
    """Rows for one table: inserted, upserted on ``key`` (every other column but
    ``keep`` updated), or deleted where ``key`` matches. A value, so that the writes of
    many requests merge into one statement."""

    kind: WriteKind
    table: str
    columns: tuple[Column, ...]
    rows: list[tuple[object, ...]]
    key: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[object, ...]:
        """What two writes must share to merge into one."""
        return (self.kind, self.table, self.columns, self.key, self.keep)

    def for_request(self, request: int) -> Write:
        """These rows, tagged as belonging to ``request``."""
        return Write(
            self.kind,
            self.table,
            (REQUEST, *self.columns),
            [(request, *row) for row in self.rows],
            self.key,
            self.keep,
        )

    def query(self, where: str = "true") -> Query:
        """The statement; ``where`` (SQL over ``r.<column>``) filters the rows."""
        arrays = ", ".join(f"${n}::{c.type}[]" for n, c in enumerate(self.columns, 1))
        source = f"unnest({arrays}) as r({', '.join(c.name for c in self.columns)})"
        args = tuple(list(values) for values in zip(*self.rows, strict=True))
        stored = [c.name for c in self.columns if c != REQUEST]
        names = ", ".join(stored)
        if self.kind == "delete":
            match = " and ".join(f"t.{c} = r.{c}" for c in stored)
            return Query(
                f"delete from {self.table} t using {source} where {match} and {where}", args
            )
        sql = f"insert into {self.table} ({names}) select {names} from {source} where {where}"
        if self.kind == "upsert":
            skip = {*self.key, *self.keep}
            updates = ", ".join(f"{c} = excluded.{c}" for c in stored if c not in skip)
            sql += f" on conflict ({', '.join(self.key)}) do update set {updates}"
        return Query(sql, args)


def upsert(
    table: str,
    columns: Sequence[Column],
    key: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    keep: Sequence[str] = (),
) -> Write:
    """``rows`` inserted, or updated where ``key`` exists (but for the ``keep`` columns)."""
    return Write("upsert", table, tuple(columns), [tuple(r) for r in rows], tuple(key), tuple(keep))


def insert(table: str, columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> Write:
    """``rows`` inserted."""
    return Write("insert", table, tuple(columns), [tuple(r) for r in rows])


def delete(table: str, key: Sequence[Column], rows: Sequence[Sequence[object]]) -> Write:
    """The rows whose ``key`` is one of ``rows``, deleted."""
    return Write("delete", table, tuple(key), [tuple(r) for r in rows])


def merged(writes: Iterable[Write]) -> list[Write]:
    """Writes of the same shape as one, rows in order: fewer statements to run."""
    by_shape: dict[tuple[object, ...], Write] = {}
    for w in writes:
        found = by_shape.get(w.shape)
        if found is None:
            by_shape[w.shape] = Write(w.kind, w.table, w.columns, list(w.rows), w.key, w.keep)
        else:
            found.rows.extend(w.rows)
    return list(by_shape.values())


_PARAM = re.compile(r"\$(\d+)")


def _shifted(query: Query, offset: int) -> str:
    return _PARAM.sub(lambda m: f"${int(m[1]) + offset}", query.sql)


def combined(prefix: Query | None, selects: Sequence[Query]) -> Query:
    """One statement: ``prefix`` (a ``with`` clause of its own, or none) and then one
    column per select, holding that select's rows as an array of records (``null``
    for none: ``rows_of`` reads it)."""
    sql, args = ("", []) if prefix is None else (prefix.sql + " ", list(prefix.args))
    columns = []
    for q in selects:
        columns.append(f"(select array_agg(x) from ({_shifted(q, len(args))}) x)")
        args.extend(q.args)
    return Query(sql + "select " + ", ".join(columns or ["null"]), tuple(args))


def rows_of(columns: Iterable[Any]) -> list[Sequence[Sequence[Any]]]:
    """The rows of each select of ``combined``, from the columns of its result."""
    return [c or [] for c in columns]


def chained(writes: Sequence[Query], *, head: Query | None = None, tail: str = "select 1") -> Query:
    """The data-modifying ``writes`` as one statement (each runs once, to completion),
    after the ``with`` items of ``head`` (if any) and before ``tail``."""
    parts: list[str] = [] if head is None else [head.sql]
    args: list[object] = [] if head is None else list(head.args)
    for n, q in enumerate(writes):
        parts.append(f"w{n} as ({_shifted(q, len(args))})")
        args.extend(q.args)
    return Query(f"with {', '.join(parts)} {tail}", tuple(args))
