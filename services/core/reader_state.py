"""A reader's standing votes and bookmarks, as the community projection holds them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from .events import BookmarkAdded, BookmarkRemoved, Event, Verdict, VoteCast, VoteWithdrawn
from .store import Connection


class StandingVote(msgspec.Struct, frozen=True, kw_only=True):
    comparison: str
    tool: str
    verdict: Verdict


class ReaderState(msgspec.Struct, frozen=True, kw_only=True):
    """A reader's standing votes (by comparison, tool) and bookmarked tools (as added)."""

    reader_id: str
    votes: list[StandingVote]
    bookmarks: list[str]

    def vote(self, comparison: str, tool: str) -> Verdict | None:
        for v in self.votes:
            if v.comparison == comparison and v.tool == tool:
                return v.verdict
        return None

    def votes_in(self, comparison: str) -> dict[str, Verdict]:
        """The standing votes in one comparison: tool -> verdict."""
        return {v.tool: v.verdict for v in self.votes if v.comparison == comparison}

    def after(self, events: Sequence[Event]) -> ReaderState:
        """This state with ``events`` (appended right after it) applied, in the order
        the projection reads it back: votes by (comparison, tool), bookmarks as added."""
        votes = {(v.comparison, v.tool): v for v in self.votes}
        bookmarks = list(self.bookmarks)
        for ev in events:
            if isinstance(ev, VoteCast):
                votes[ev.comparison, ev.tool] = StandingVote(
                    comparison=ev.comparison, tool=ev.tool, verdict=ev.verdict
                )
            elif isinstance(ev, VoteWithdrawn):
                votes.pop((ev.comparison, ev.tool), None)
            elif isinstance(ev, BookmarkAdded) and ev.tool not in bookmarks:
                bookmarks.append(ev.tool)
            elif isinstance(ev, BookmarkRemoved) and ev.tool in bookmarks:
                bookmarks.remove(ev.tool)
        return ReaderState(
            reader_id=self.reader_id, votes=[votes[k] for k in sorted(votes)], bookmarks=bookmarks
        )


STATE_COLUMNS = """
array(select comparison from reader_votes where reader_id = $1::uuid order by comparison, tool),
array(select tool from reader_votes where reader_id = $1::uuid order by comparison, tool),
array(select verdict from reader_votes where reader_id = $1::uuid order by comparison, tool),
array(select tool from reader_bookmarks where reader_id = $1::uuid order by added_at, tool)
"""
"""A reader's state as four columns of one row (``$1``: the reader id), so a caller can
read it in the statement that reads what else it decides on: on two cores the
client's CPU per statement is what bounds a vote's throughput."""


def state_from(reader_id: str, row: Sequence[Any]) -> ReaderState:
    """The ``ReaderState`` in the first four columns of a row read with ``STATE_COLUMNS``."""
    comparisons, tools, verdicts, bookmarks = row[:4]
    return ReaderState(
        reader_id=reader_id,
        votes=[
            StandingVote(comparison=c, tool=t, verdict=v)
            for c, t, v in zip(comparisons, tools, verdicts, strict=True)
        ],
        bookmarks=list(bookmarks),
    )


async def reader_state(conn: Connection, reader_id: str) -> ReaderState:
    """The reader's standing votes and bookmarks as the projections hold them now."""
    row = await conn.fetchrow(f"select {STATE_COLUMNS}", reader_id)
    assert row is not None  # a select without from returns its one row
    return state_from(reader_id, tuple(row))
