"""What readers do: vote ship/skip on a tool of a comparison, change or withdraw that
vote, bookmark and un-bookmark tools.

Each call decides on a fresh read of the reader's state, then appends to the reader's
stream at the version it read, together with the inline projections, in a group commit
shared with concurrent callers (``group.py``); a conflict (the reader acted meanwhile)
re-reads and decides again. The returned state includes the change: it is the state
the decision read, with the appended events applied (``ReaderState.after``). The append
succeeded at the version read, so nothing else happened in between, and no read after
the commit is needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from .errors import (
    ComparisonWithdrawnError,
    StreamVersionConflictError,
    ToolNotInComparisonError,
    UnknownComparisonError,
    UnknownToolError,
)
from .events import BookmarkAdded, BookmarkRemoved, Event, Verdict, VoteCast, VoteWithdrawn
from .group_commit import committer
from .store import Connection, Metadata, Pool
from .writes import append, with_retries


class StandingVote(msgspec.Struct, frozen=True, kw_only=True):
    comparison: str
    tool: str
    verdict: Verdict


class ReaderState(msgspec.Struct, frozen=True, kw_only=True):
    """A reader's standing votes and bookmarked tools."""

    reader_id: str
    votes: list[StandingVote]
    bookmarks: list[str]

    def vote(self, comparison: str, tool: str) -> Verdict | None:
        for v in self.votes:
            if v.comparison == comparison and v.tool == tool:
                return v.verdict
        return None

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


def reader_stream(reader_id: str) -> str:
    return f"reader-{reader_id}"


# A reader's standing votes and bookmarks in one statement (one round trip): on two
# cores the client's CPU per statement is what bounds a vote's throughput.
_STATE = """
array(select comparison from reader_votes where reader_id = $1::uuid order by comparison, tool),
array(select tool from reader_votes where reader_id = $1::uuid order by comparison, tool),
array(select verdict from reader_votes where reader_id = $1::uuid order by comparison, tool),
array(select tool from reader_bookmarks where reader_id = $1::uuid order by added_at, tool)
"""


def _state_of(reader_id: str, row: Sequence[Any]) -> ReaderState:
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
    row = await conn.fetchrow(f"select {_STATE}", reader_id)
    assert row is not None
    return _state_of(reader_id, tuple(row))


@dataclass(frozen=True, slots=True)
class _Context:
    """What a reader action decides on, read in one statement inside its transaction."""

    state: ReaderState
    version: int
    tool_known: bool
    comparison: tuple[str, str, datetime | None] | None


async def _context(conn: Connection, reader_id: str, tool: str, comparison: str) -> _Context:
    row = await conn.fetchrow(
        f"select {_STATE},"
        " (select coalesce(max(stream_version), 0) from events where stream_id = $2),"
        " exists(select 1 from tools where slug = $3),"
        " (select row(tool_a, tool_b, withdrawn_at) from comparisons where slug = $4)",
        reader_id,
        reader_stream(reader_id),
        tool,
        comparison,
    )
    assert row is not None
    return _Context(_state_of(reader_id, tuple(row)), row[4], row[5], row[6] and tuple(row[6]))


async def _vote_context(conn: Connection, reader_id: str, comparison: str, tool: str) -> _Context:
    ctx = await _context(conn, reader_id, tool, comparison)
    if ctx.comparison is None:
        raise UnknownComparisonError(comparison)
    tool_a, tool_b, withdrawn_at = ctx.comparison
    if tool not in (tool_a, tool_b):
        if not ctx.tool_known:
            raise UnknownToolError(tool)
        raise ToolNotInComparisonError(comparison, tool, (tool_a, tool_b))
    if withdrawn_at is not None:
        raise ComparisonWithdrawnError(comparison)
    return ctx


async def _act(
    conn: Connection,
    ctx: _Context,
    events: list[Event],
    *,
    idempotency_key: str | None,
    request_id: str | None,
) -> ReaderState:
    if not events:
        return ctx.state
    reader_id = ctx.state.reader_id
    result = await append(
        conn,
        reader_stream(reader_id),
        events,
        expected_version=ctx.version,
        idempotency_key=idempotency_key,
        metadata=Metadata(request_id=request_id, idempotency_key=idempotency_key),
    )
    if result.replayed:  # a retry: its events were appended earlier, not after ctx
        return await reader_state(conn, reader_id)
    return ctx.state.after(events)


Decide = Callable[[Connection], Awaitable[tuple[_Context, list[Event]]]]

_ATTEMPTS = 5


async def _perform(
    pool: Pool, decide: Decide, *, idempotency_key: str | None, request_id: str | None
) -> ReaderState:
    """Decide on a fresh read, append with the next group commit, retry on a conflict.

    A request with an idempotency key decides and appends in one transaction of its
    own instead, so that its key is checked and recorded with the append.
    """
    if idempotency_key is not None:

        async def work(conn: Connection) -> ReaderState:
            ctx, events = await decide(conn)
            return await _act(
                conn, ctx, events, idempotency_key=idempotency_key, request_id=request_id
            )

        return await with_retries(pool, work)
    group = committer(pool)
    for attempt in range(_ATTEMPTS):
        async with pool.acquire() as conn:
            ctx, events = await decide(conn)
        if not events:
            return ctx.state
        try:
            await group.append(
                reader_stream(ctx.state.reader_id),
                events,
                expected_version=ctx.version,
                metadata=Metadata(request_id=request_id),
            )
        except StreamVersionConflictError:
            if attempt == _ATTEMPTS - 1:
                raise
            continue
        return ctx.state.after(events)
    raise AssertionError("unreachable: _ATTEMPTS >= 1")


async def cast_vote(
    pool: Pool,
    reader_id: str,
    comparison: str,
    tool: str,
    verdict: Verdict,
    *,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> ReaderState:
    """Make ``verdict`` the reader's standing vote on ``tool`` in ``comparison``."""

    async def decide(conn: Connection) -> tuple[_Context, list[Event]]:
        ctx = await _vote_context(conn, reader_id, comparison, tool)
        if ctx.state.vote(comparison, tool) == verdict:
            return ctx, []
        return ctx, [VoteCast(comparison=comparison, tool=tool, verdict=verdict)]

    return await _perform(pool, decide, idempotency_key=idempotency_key, request_id=request_id)


async def withdraw_vote(
    pool: Pool,
    reader_id: str,
    comparison: str,
    tool: str,
    *,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> ReaderState:
    """Remove the reader's standing vote on ``tool``; withdrawing no vote is a no-op."""

    async def decide(conn: Connection) -> tuple[_Context, list[Event]]:
        ctx = await _vote_context(conn, reader_id, comparison, tool)
        if ctx.state.vote(comparison, tool) is None:
            return ctx, []
        return ctx, [VoteWithdrawn(comparison=comparison, tool=tool)]

    return await _perform(pool, decide, idempotency_key=idempotency_key, request_id=request_id)


async def set_bookmark(
    pool: Pool,
    reader_id: str,
    tool: str,
    bookmarked: bool,
    *,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> ReaderState:
    """Bookmark ``tool`` (or remove the bookmark); repeating either is a no-op."""

    async def decide(conn: Connection) -> tuple[_Context, list[Event]]:
        ctx = await _context(conn, reader_id, tool, "")
        if not ctx.tool_known:
            raise UnknownToolError(tool)
        has = tool in ctx.state.bookmarks
        if bookmarked and not has:
            return ctx, [BookmarkAdded(tool=tool)]
        if has and not bookmarked:
            return ctx, [BookmarkRemoved(tool=tool)]
        return ctx, []

    return await _perform(pool, decide, idempotency_key=idempotency_key, request_id=request_id)
