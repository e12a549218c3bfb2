"""Community tallies: read from the counters projection, or recomputed from the log.

``recompute`` is deliberately independent of the projection code: plain SQL over the
events finds each reader's last vote event per (comparison, tool); tallies "as of" a
past time use it with a time bound. ``verify`` holds the projection to the log, each
tally and each day of its history, from ``daily_tallies``' SQL (as independent of the
projection code).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import msgspec

from . import daily_tallies
from .daily_tallies import NO_CHANGE, DayChange
from .errors import InvalidTimeError
from .projections.community import tally_key, tally_subject
from .projections.counters import totals
from .store import Connection


class Tally(msgspec.Struct, frozen=True, kw_only=True):
    """Standing community votes on one tool of one comparison: ship, skip and ship %
    (``None`` before any vote). The one tally type: pages, the API and the digest use it."""

    ship: int = 0
    skip: int = 0
    ship_pct: int | None = None

    @classmethod
    def of(cls, ship: int, skip: int) -> Tally:
        total = ship + skip
        return cls(ship=ship, skip=skip, ship_pct=round(100 * ship / total) if total else None)

    @property
    def total(self) -> int:
        return self.ship + self.skip

    def changed(self, before: str | None, after: str | None) -> Tally:
        """This tally with one reader's standing vote moved from ``before`` to ``after``
        (``ship``, ``skip`` or ``None`` for no vote)."""
        ship = self.ship + (after == "ship") - (before == "ship")
        skip = self.skip + (after == "skip") - (before == "skip")
        return Tally.of(ship, skip)


TallyKey = tuple[str, str]  # comparison, tool

NO_VOTES = Tally()


def _tallies(counts: dict[tuple[str, str], int], subjects: Sequence[str]) -> list[Tally]:
    return [Tally.of(counts.get(("ship", s), 0), counts.get(("skip", s), 0)) for s in subjects]


async def current(conn: Connection, pairs: Sequence[TallyKey]) -> dict[TallyKey, Tally]:
    """Tallies of the given (comparison, tool) pairs from the counters projection."""
    subjects = [tally_subject(c, t) for c, t in pairs]
    counts = await totals(conn, ("ship", "skip"), subjects)
    return dict(zip(pairs, _tallies(counts, subjects), strict=True))


async def all_current(conn: Connection) -> dict[TallyKey, Tally]:
    """Every non-empty tally the counters projection holds."""
    counts = await totals(conn, ("ship", "skip"))
    subjects = sorted({subject for _, subject in counts})
    found = zip(subjects, _tallies(counts, subjects), strict=True)
    return {tally_key(s): t for s, t in found if t.total}


_RECOMPUTE = """
with last_vote as (
    select distinct on (stream_id, data ->> 'comparison', data ->> 'tool')
           data ->> 'comparison' as comparison, data ->> 'tool' as tool,
           type, data ->> 'verdict' as verdict
      from events
     where type in ('VoteCast', 'VoteWithdrawn')
       and ($1::text is null or data ->> 'comparison' = $1)
       and ($2::timestamptz is null or recorded_at <= $2)
     order by stream_id, data ->> 'comparison', data ->> 'tool', position desc
)
select comparison, tool,
       count(*) filter (where type = 'VoteCast' and verdict = 'ship')::int,
       count(*) filter (where type = 'VoteCast' and verdict = 'skip')::int
  from last_vote group by comparison, tool
"""


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; ``InvalidTimeError`` if it has no zone offset, or if in UTC it
    falls outside what Python represents (years 1 to 9999; PostgreSQL's range is wider),
    e.g. ``0001-01-01T00:00:00+01:00``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTimeError(
            moment.isoformat(), "give a time zone offset, e.g. 2026-11-20T12:00Z"
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidTimeError(
            moment.isoformat(), "it falls outside years 1 to 9999 in UTC"
        ) from None


async def recompute(
    conn: Connection, *, comparison: str | None = None, as_of: datetime | None = None
) -> dict[TallyKey, Tally]:
    """Tallies straight from the log (optionally one comparison, optionally as of a time:
    ``InvalidTimeError`` if ``in_utc`` refuses it)."""
    rows = await conn.fetch(_RECOMPUTE, comparison, None if as_of is None else in_utc(as_of))
    return {(r[0], r[1]): Tally.of(r[2], r[3]) for r in rows if r[2] or r[3]}


class Drift(msgspec.Struct, frozen=True):
    """A tally the counters hold that is not the log's."""

    comparison: str
    tool: str
    projected: Tally
    from_log: Tally


class DayDrift(msgspec.Struct, frozen=True):
    """A day of a tally's history whose change the counters hold is not the log's."""

    comparison: str
    tool: str
    day: date
    projected: DayChange
    from_log: DayChange


async def verify(conn: Connection) -> list[Drift | DayDrift]:
    """Every (comparison, tool) whose projected tally differs from the log's, then every
    day of the history (the ship % chart's points) whose change differs.

    One pass over the log: the tallies from the log are its day changes added up (a
    reader's changes to a tally add up to its standing vote), so verify costs what it
    did when it checked tallies only."""
    days_logged = await daily_tallies.from_log(conn)
    logged = daily_tallies.summed(days_logged)
    projected = await all_current(conn)
    drifts: list[Drift | DayDrift] = []
    for key in sorted(set(projected) | set(logged)):
        p, g = projected.get(key, NO_VOTES), logged.get(key, NO_CHANGE)
        if (p.ship, p.skip) != (g.ship, g.skip):
            drifts.append(Drift(key[0], key[1], p, Tally.of(g.ship, g.skip)))
    days = await daily_tallies.projected(conn)
    for day in sorted(days.keys() | days_logged.keys()):
        dp, dg = days.get(day, NO_CHANGE), days_logged.get(day, NO_CHANGE)
        if dp != dg:
            drifts.append(DayDrift(*day, dp, dg))
    return drifts
