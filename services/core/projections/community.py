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
from typing import Any

from ..events import BookmarkAdded, BookmarkRemoved, VoteCast, VoteWithdrawn
from ..sql import Column, Query, Write, delete, insert, upsert
from ..store import Connection
from ..streams import READER
from .base import Happened, Pending, TableSet

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


_VOTE_COLUMNS = (
    Column("reader_id", "uuid"),
    Column("comparison", "text"),
    Column("tool", "text"),
    Column("verdict", "text"),
    Column("cast_at", "timestamptz"),
)
_VOTE_KEY_NAMES = ("reader_id", "comparison", "tool")
_BOOKMARK_COLUMNS = (
    Column("reader_id", "uuid"),
    Column("tool", "text"),
    Column("added_at", "timestamptz"),
)
_BOOKMARK_KEY_NAMES = ("reader_id", "tool")
_DELTA_COLUMNS = (
    Column("metric", "text"),
    Column("subject", "text"),
    Column("day", "date"),
    Column("delta", "int"),
)
_VOTES = frozenset({"VoteCast", "VoteWithdrawn"})
_BOOKMARKS = frozenset({"BookmarkAdded", "BookmarkRemoved"})


class CommunityProjection:
    """Maintains ``reader_votes``, ``reader_bookmarks`` and the community counters."""

    name = "community"
    tables: tuple[str, ...] = ("reader_votes", "reader_bookmarks", "counters", "counter_deltas")
    handles: frozenset[str] = _VOTES | _BOOKMARKS

    def empty(self) -> CommunityState:
        return CommunityState()

    def loads(self, into: TableSet, events: Sequence[Pending]) -> list[Query]:
        # A vote loads the reader's votes, a bookmark their bookmarks; both always
        # run (an empty array costs nothing), so rows map to queries by position.
        voters = sorted({READER.key(e.stream_id) for e in events if e.type in _VOTES})
        bookmarkers = sorted({READER.key(e.stream_id) for e in events if e.type in _BOOKMARKS})
        return [
            Query(
                "select reader_id::text, comparison, tool, verdict, cast_at"
                f" from {into.quoted('reader_votes')} where reader_id = any($1::uuid[])",
                (voters,),
            ),
            Query(
                "select reader_id::text, tool, added_at"
                f" from {into.quoted('reader_bookmarks')} where reader_id = any($1::uuid[])",
                (bookmarkers,),
            ),
        ]

    def loaded(self, rows: Sequence[Sequence[Sequence[Any]]]) -> CommunityState:
        votes, bookmarks = rows
        state = CommunityState()
        state.votes = {(r[0], r[1], r[2]): (r[3], r[4]) for r in votes}
        state.bookmarks = {(r[0], r[1]): r[2] for r in bookmarks}
        return state

    def apply(self, state: CommunityState, rec: Happened) -> None:
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

    def writes(self, into: TableSet, state: CommunityState) -> list[Write]:
        votes = [(*k, *state.votes[k]) for k in state.dirty_votes if k in state.votes]
        unvoted = [k for k in state.dirty_votes if k not in state.votes]
        added = [(*k, state.bookmarks[k]) for k in state.dirty_bookmarks if k in state.bookmarks]
        removed = [k for k in state.dirty_bookmarks if k not in state.bookmarks]
        deltas = [(m, s, d, n) for (m, s, d), n in state.deltas.items() if n]
        out = []
        if votes:
            out.append(upsert(into.quoted("reader_votes"), _VOTE_COLUMNS, _VOTE_KEY_NAMES, votes))
        if unvoted:
            out.append(delete(into.quoted("reader_votes"), _VOTE_COLUMNS[:3], unvoted))
        if added:
            # Removed and added back within one batch: the row is still there, and its
            # place in the reader's order is the new one (as replay has it).
            out.append(
                upsert(
                    into.quoted("reader_bookmarks"), _BOOKMARK_COLUMNS, _BOOKMARK_KEY_NAMES, added
                )
            )
        if removed:
            out.append(delete(into.quoted("reader_bookmarks"), _BOOKMARK_COLUMNS[:2], removed))
        if deltas:
            out.append(insert(into.quoted("counter_deltas"), _DELTA_COLUMNS, deltas))
        state.dirty_votes.clear()
        state.dirty_bookmarks.clear()
        state.deltas.clear()
        return out

    async def dump(self, conn: Connection, into: TableSet, state: CommunityState) -> None:
        await conn.copy_records_to_table(
            into.bare("reader_votes"),
            records=((k[0], k[1], k[2], v[0], v[1]) for k, v in state.votes.items()),
            columns=[c.name for c in _VOTE_COLUMNS],
        )
        await conn.copy_records_to_table(
            into.bare("reader_bookmarks"),
            records=((k[0], k[1], at) for k, at in state.bookmarks.items()),
            columns=[c.name for c in _BOOKMARK_COLUMNS],
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
