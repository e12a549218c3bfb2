"""Statements as values: built by one part of the code, run (or joined into one
statement, one round trip) by another. Arguments are always ``$n`` parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple


class Query(NamedTuple):
    """One SQL statement with its ``$n`` arguments, to run alone or inside another."""

    sql: str
    args: tuple[object, ...] = ()


class Column(NamedTuple):
    """A column and its PostgreSQL type, for the arrays a write unnests."""

    name: str
    type: str


def _unnest(columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> Query:
    arrays = ", ".join(f"${n}::{c.type}[]" for n, c in enumerate(columns, 1))
    names = ", ".join(c.name for c in columns)
    args = tuple(list(values) for values in zip(*rows, strict=True))
    return Query(f"unnest({arrays}) as r({names})", args)


def upsert(
    table: str,
    columns: Sequence[Column],
    key: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    keep: Sequence[str] = (),
) -> Query:
    """``rows`` inserted, or updated where ``key`` exists (but for the ``keep`` columns)."""
    source = _unnest(columns, rows)
    names = ", ".join(c.name for c in columns)
    skip = {*key, *keep}
    updates = ", ".join(f"{c.name} = excluded.{c.name}" for c in columns if c.name not in skip)
    return Query(
        f"insert into {table} ({names}) select {names} from {source.sql}"
        f" on conflict ({', '.join(key)}) do update set {updates}",
        source.args,
    )


def insert(table: str, columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> Query:
    """``rows`` inserted."""
    source = _unnest(columns, rows)
    names = ", ".join(c.name for c in columns)
    return Query(f"insert into {table} ({names}) select {names} from {source.sql}", source.args)


def delete(table: str, key: Sequence[Column], rows: Sequence[Sequence[object]]) -> Query:
    """The rows whose ``key`` is one of ``rows``, deleted."""
    source = _unnest(key, rows)
    match = " and ".join(f"t.{c.name} = r.{c.name}" for c in key)
    return Query(f"delete from {table} t using {source.sql} where {match}", source.args)


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


def chained(writes: Sequence[Query]) -> Query:
    """The data-modifying ``writes`` as one statement (each runs once, to completion)."""
    parts: list[str] = []
    args: list[object] = []
    for n, q in enumerate(writes):
        parts.append(f"w{n} as ({_shifted(q, len(args))})")
        args.extend(q.args)
    return Query(f"with {', '.join(parts)} select 1", tuple(args))
