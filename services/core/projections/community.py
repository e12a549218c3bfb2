"""Community read model: each reader's standing votes and bookmarks, and the counts
built from them (ship/skip per comparison and tool, bookmarks per tool), per day.

Counts are written as delta rows (INSERT only) so that concurrent votes on one viral
comparison never wait for each other's row lock; ``counters.compact`` folds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from ..events import BookmarkAdded, BookmarkRemoved, VoteCast, VoteWithdrawn
from ..store import Connection, Recorded
from ..streams import READER
from .base import TableSet, upsert_sql

VoteKey = tuple[str, str, str]  # reader id, comparison, tool
BookmarkKey = tuple[str, str]  # reader id, tool
CountKey = tuple[str, str, date]  # metric, subject, day


def tally_subject(comparison: str, tool: str) -> str:
    """The counter subject under which a comparison's tool is tallied."""
    return f"{comparison}/{tool}"


def tally_key(subject: str) -> tuple[str, str]:
    """The (comparison, tool) a ``tally_subject`` names."""
    comparison, tool = subject.rsplit("/", 1)
    return comparison, tool


@dataclass(slots=True)
class CommunityState:
    votes: dict[VoteKey, tuple[str, datetime]] = field(default_factory=dict)
    bookmarks: dict[BookmarkKey, datetime] = field(default_factory=dict)
    deltas: defaultdict[CountKey, int] = field(default_factory=lambda: defaultdict(int))
    dirty_votes: set[VoteKey] = field(default_factory=set)
    dirty_bookmarks: set[BookmarkKey] = field(default_factory=set)


_VOTE_COLUMNS = ("reader_id", "comparison", "tool", "verdict", "cast_at")
_VOTES = frozenset({"VoteCast", "VoteWithdrawn"})
_BOOKMARKS = frozenset({"BookmarkAdded", "BookmarkRemoved"})


class CommunityProjection:
    """Maintains ``reader_votes``, ``reader_bookmarks`` and the community counters."""

    name = "community"
    tables: tuple[str, ...] = ("reader_votes", "reader_bookmarks", "counters", "counter_deltas")
    handles: frozenset[str] = _VOTES | _BOOKMARKS

    def empty(self) -> CommunityState:
        return CommunityState()

    async def load(
        self, conn: Connection, into: TableSet, events: Sequence[Recorded]
    ) -> CommunityState:
        state = CommunityState()
        # Each table only when the events touch it: one statement less per vote.
        voters = sorted({READER.key(e.stream_id) for e in events if e.type in _VOTES})
        if voters:
            for r in await conn.fetch(
                f"select reader_id::text, comparison, tool, verdict, cast_at "
                f"from {into.quoted('reader_votes')} where reader_id = any($1::uuid[])",
                voters,
            ):
                state.votes[(r[0], r[1], r[2])] = (r[3], r[4])
        bookmarkers = sorted({READER.key(e.stream_id) for e in events if e.type in _BOOKMARKS})
        if bookmarkers:
            for r in await conn.fetch(
                f"select reader_id::text, tool, added_at from {into.quoted('reader_bookmarks')} "
                "where reader_id = any($1::uuid[])",
                bookmarkers,
            ):
                state.bookmarks[(r[0], r[1])] = r[2]
        return state

    def apply(self, state: CommunityState, rec: Recorded) -> None:
        # Replay calls this once per event of the log: exact type checks and no
        # helper calls on the path of a vote (the events are final classes).
        ev = rec.event
        reader = READER.key(rec.stream_id)
        day = rec.recorded_at.date()
        if type(ev) is VoteCast or type(ev) is VoteWithdrawn:
            key = (reader, ev.comparison, ev.tool)
            prior = state.votes.get(key)
            verdict = ev.verdict if type(ev) is VoteCast else None
            if prior is not None and prior[0] == verdict:
                return
            subject = tally_subject(ev.comparison, ev.tool)
            if prior is not None:
                state.deltas[(prior[0], subject, day)] -= 1
                del state.votes[key]
            if verdict is not None:
                state.deltas[(verdict, subject, day)] += 1
                state.votes[key] = (verdict, rec.recorded_at)
            state.dirty_votes.add(key)
        elif isinstance(ev, BookmarkAdded):
            bkey = (reader, ev.tool)
            if bkey not in state.bookmarks:
                state.bookmarks[bkey] = rec.recorded_at
                state.deltas[("bookmarks", ev.tool, day)] += 1
                state.dirty_bookmarks.add(bkey)
        elif isinstance(ev, BookmarkRemoved):
            bkey = (reader, ev.tool)
            if bkey in state.bookmarks:
                del state.bookmarks[bkey]
                state.deltas[("bookmarks", ev.tool, day)] -= 1
                state.dirty_bookmarks.add(bkey)

    async def flush(self, conn: Connection, into: TableSet, state: CommunityState) -> None:
        upserts = [(*k, *state.votes[k]) for k in state.dirty_votes if k in state.votes]
        deletes = [k for k in state.dirty_votes if k not in state.votes]
        if upserts:
            key = ["reader_id", "comparison", "tool"]
            upsert = upsert_sql(into.quoted("reader_votes"), _VOTE_COLUMNS, key)
            await conn.executemany(upsert, upserts)
        if deletes:
            await conn.executemany(
                f"delete from {into.quoted('reader_votes')}"
                " where reader_id = $1 and comparison = $2 and tool = $3",
                deletes,
            )
        added = [(*k, state.bookmarks[k]) for k in state.dirty_bookmarks if k in state.bookmarks]
        removed = [k for k in state.dirty_bookmarks if k not in state.bookmarks]
        if added:
            await conn.executemany(
                f"insert into {into.quoted('reader_bookmarks')} (reader_id, tool, added_at)"
                " values ($1, $2, $3)"
                # Removed and added back within one batch: the row is still there, and
                # its place in the reader's order is the new one (as replay has it).
                " on conflict (reader_id, tool) do update set added_at = excluded.added_at",
                added,
            )
        if removed:
            await conn.executemany(
                f"delete from {into.quoted('reader_bookmarks')} where reader_id = $1 and tool = $2",
                removed,
            )
        deltas = [(m, s, d, n) for (m, s, d), n in state.deltas.items() if n]
        if deltas:
            await conn.execute(
                f"insert into {into.quoted('counter_deltas')} (metric, subject, day, delta)"
                " select * from unnest($1::text[], $2::text[], $3::date[], $4::int[])",
                *map(list, zip(*deltas, strict=True)),
            )
        state.dirty_votes.clear()
        state.dirty_bookmarks.clear()
        state.deltas.clear()

    async def dump(self, conn: Connection, into: TableSet, state: CommunityState) -> None:
        await conn.copy_records_to_table(
            into.bare("reader_votes"),
            records=((k[0], k[1], k[2], v[0], v[1]) for k, v in state.votes.items()),
            columns=_VOTE_COLUMNS,
        )
        await conn.copy_records_to_table(
            into.bare("reader_bookmarks"),
            records=((k[0], k[1], at) for k, at in state.bookmarks.items()),
            columns=["reader_id", "tool", "added_at"],
        )
        await conn.copy_records_to_table(
            into.bare("counters"),
            records=((m, s, d, n) for (m, s, d), n in state.deltas.items() if n),
            columns=["metric", "subject", "day", "value"],
        )
        state.dirty_votes.clear()
        state.dirty_bookmarks.clear()
        state.deltas.clear()


COMMUNITY = CommunityProjection()
