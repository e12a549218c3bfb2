"""Reading and compacting the community's day-bucketed counters.

Votes and bookmarks INSERT signed delta rows (``counter_deltas``); a compactor folds
them into ``counters``. A count is ``sum(counters.value) + sum(counter_deltas.delta)``,
always read in one statement (``counted``), so it is exact at any moment, however a
concurrent compaction moves rows from one table to the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from ..store import Connection

_COMPACT_LOCK = 0x636F6D70  # "comp": one compactor at a time; others skip the round


def counted(where: str) -> str:
    """The relation ``(metric, subject, day, n)`` of every count not yet summed: the
    compacted counters and the deltas still waiting, both filtered by ``where`` (SQL
    over ``metric``, ``subject`` and ``day``). Sum ``n`` for exact counts."""
    return (
        f"(select metric, subject, day, value as n from counters where {where}"
        f" union all select metric, subject, day, delta from counter_deltas where {where})"
    )


async def totals(
    conn: Connection, metrics: Sequence[str], subjects: Sequence[str] | None = None
) -> dict[tuple[str, str], int]:
    """Current totals per (metric, subject), of ``subjects`` or of all; absent pairs
    are zero."""
    rows = await conn.fetch(
        "select metric, subject, sum(n)::bigint from "
        + counted("metric = any($1) and ($2::text[] is null or subject = any($2))")
        + " c group by metric, subject",
        list(metrics),
        None if subjects is None else list(subjects),
    )
    return {(r[0], r[1]): r[2] for r in rows}


async def daily(
    conn: Connection,
    metrics: Sequence[str],
    subjects: Sequence[str],
    *,
    since: date,
    until: date | None = None,
) -> list[tuple[str, str, date, int]]:
    """Per-day net changes per (metric, subject) from ``since`` to ``until``, in day
    order. Every change before ``since`` is counted on that day, so the rows stay
    bounded however old the subject is; one after ``until`` (the database's clock ahead
    of the caller's, a vote just past midnight) is counted on ``until``."""
    rows = await conn.fetch(
        "select metric, subject, least(greatest(day, $3::date), $4::date) as d,"
        " sum(n)::bigint from "
        + counted("metric = any($1) and subject = any($2)")
        + " c group by metric, subject, d order by d",
        list(metrics),
        list(subjects),
        since,
        until,
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def compact(conn: Connection, *, limit: int = 50_000) -> int:
    """Fold up to ``limit`` delta rows into ``counters``; returns how many were folded."""
    async with conn.transaction():
        if not await conn.fetchval("select pg_try_advisory_xact_lock($1)", _COMPACT_LOCK):
            return 0
        folded: int = await conn.fetchval(
            "with moved as ("
            " delete from counter_deltas where id in"
            "  (select id from counter_deltas order by id limit $1)"
            " returning metric, subject, day, delta),"
            " summed as (select metric, subject, day, sum(delta) as n, count(*) as rows"
            "  from moved group by 1, 2, 3),"
            " merged as (insert into counters (metric, subject, day, value)"
            "  select metric, subject, day, n from summed"
            "  on conflict (metric, subject, day) do update"
            "  set value = counters.value + excluded.value)"
            " select coalesce(sum(rows), 0)::int from summed",
            limit,
        )
        return folded
