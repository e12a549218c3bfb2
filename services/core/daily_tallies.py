"""Each day's change to each community tally, recomputed from the log: what ``verify``
holds the ship % history against.

Like ``tallies.recompute``, plain SQL over the events and nothing of the projection
code: for each vote event, the reader's standing verdict before it (the previous vote
event on the same comparison and tool) and after it; a change takes one from the
verdict before and adds one to the verdict after, on the event's day in UTC.
"""

from __future__ import annotations

from datetime import date

import msgspec

from .projections.community import tally_key
from .projections.counters import by_day
from .store import Connection

DayKey = tuple[str, str, date]  # comparison, tool, day (UTC)


class DayChange(msgspec.Struct, frozen=True):
    """The net change of one day to a tally's ship and skip counts."""

    ship: int = 0
    skip: int = 0


NO_CHANGE = DayChange()

_FROM_LOG = """
with votes as (
    select data ->> 'comparison' as comparison, data ->> 'tool' as tool,
           (recorded_at at time zone 'UTC')::date as day,
           case when type = 'VoteCast' then data ->> 'verdict' end as after,
           lag(case when type = 'VoteCast' then data ->> 'verdict' end) over (
               partition by stream_id, data ->> 'comparison', data ->> 'tool'
               order by position
           ) as before
      from events
     where type in ('VoteCast', 'VoteWithdrawn')
), changes as (
    select comparison, tool, day, after as verdict, 1 as n
      from votes where after is not null and after is distinct from before
    union all
    select comparison, tool, day, before, -1
      from votes where before is not null and after is distinct from before
)
select comparison, tool, day,
       coalesce(sum(n) filter (where verdict = 'ship'), 0)::int,
       coalesce(sum(n) filter (where verdict = 'skip'), 0)::int
  from changes group by comparison, tool, day
"""


async def from_log(conn: Connection) -> dict[DayKey, DayChange]:
    """Every day that changed a tally, per (comparison, tool), from the log alone."""
    rows = await conn.fetch(_FROM_LOG)
    return {(r[0], r[1], r[2]): DayChange(r[3], r[4]) for r in rows if r[3] or r[4]}


def summed(days: dict[DayKey, DayChange]) -> dict[tuple[str, str], DayChange]:
    """Each (comparison, tool)'s changes added up over every day: its standing tally."""
    totals: dict[tuple[str, str], DayChange] = {}
    for (comparison, tool, _), change in days.items():
        was = totals.get((comparison, tool), NO_CHANGE)
        totals[(comparison, tool)] = DayChange(was.ship + change.ship, was.skip + change.skip)
    return totals


async def projected(conn: Connection) -> dict[DayKey, DayChange]:
    """Every day that changed a tally, per (comparison, tool), as the counters hold it:
    the rows the ship % history is drawn from."""
    ship: dict[DayKey, int] = {}
    skip: dict[DayKey, int] = {}
    for (metric, subject, day), n in (await by_day(conn, ("ship", "skip"))).items():
        (ship if metric == "ship" else skip)[(*tally_key(subject), day)] = n
    return {k: DayChange(ship.get(k, 0), skip.get(k, 0)) for k in ship.keys() | skip.keys()}
