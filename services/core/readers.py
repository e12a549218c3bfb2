"""What readers do: vote ship/skip on a tool of a comparison, change or withdraw that
vote, bookmark and un-bookmark tools. Each call is one transaction that appends to the
reader's stream and updates the inline projections, so the returned state already
includes the change.
"""

from __future__ import annotations

import msgspec

from .errors import ComparisonWithdrawn, ToolNotInComparison, UnknownComparison, UnknownTool
from .events import BookmarkAdded, BookmarkRemoved, Event, Verdict, VoteCast, VoteWithdrawn
from .store import Connection, Metadata, Pool
from .unit import STORE, append, with_retries


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


def reader_stream(reader_id: str) -> str:
    return f"reader-{reader_id}"


async def reader_state(conn: Connection, reader_id: str) -> ReaderState:
    """The reader's standing votes and bookmarks as the projections hold them now."""
    votes = await conn.fetch(
        "select comparison, tool, verdict from reader_votes where reader_id = $1::uuid"
        " order by comparison, tool",
        reader_id,
    )
    bookmarks = await conn.fetch(
        "select tool from reader_bookmarks where reader_id = $1::uuid order by added_at, tool",
        reader_id,
    )
    return ReaderState(
        reader_id=reader_id,
        votes=[StandingVote(comparison=r[0], tool=r[1], verdict=r[2]) for r in votes],
        bookmarks=[r[0] for r in bookmarks],
    )


async def _check_vote_target(conn: Connection, comparison: str, tool: str) -> None:
    row = await conn.fetchrow(
        "select tool_a, tool_b, withdrawn_at from comparisons where slug = $1", comparison
    )
    if row is None:
        raise UnknownComparison(comparison)
    if tool not in (row[0], row[1]):
        if not await conn.fetchval("select 1 from tools where slug = $1", tool):
            raise UnknownTool(tool)
        raise ToolNotInComparison(comparison, tool, (row[0], row[1]))
    if row[2] is not None:
        raise ComparisonWithdrawn(comparison)


async def _check_tool(conn: Connection, tool: str) -> None:
    if not await conn.fetchval("select 1 from tools where slug = $1", tool):
        raise UnknownTool(tool)


async def _act(
    conn: Connection,
    reader_id: str,
    events: list[Event],
    *,
    idempotency_key: str | None,
    request_id: str | None,
) -> ReaderState:
    if events:
        stream = reader_stream(reader_id)
        await append(
            conn,
            stream,
            events,
            expected_version=await STORE.stream_version(conn, stream),
            idempotency_key=idempotency_key,
            metadata=Metadata(request_id=request_id, idempotency_key=idempotency_key),
        )
    return await reader_state(conn, reader_id)


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

    async def work(conn: Connection) -> ReaderState:
        await _check_vote_target(conn, comparison, tool)
        current = (await reader_state(conn, reader_id)).vote(comparison, tool)
        events: list[Event] = []
        if current != verdict:
            events.append(VoteCast(comparison=comparison, tool=tool, verdict=verdict))
        return await _act(
            conn, reader_id, events, idempotency_key=idempotency_key, request_id=request_id
        )

    return await with_retries(pool, work)


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

    async def work(conn: Connection) -> ReaderState:
        await _check_vote_target(conn, comparison, tool)
        current = (await reader_state(conn, reader_id)).vote(comparison, tool)
        events: list[Event] = []
        if current is not None:
            events.append(VoteWithdrawn(comparison=comparison, tool=tool))
        return await _act(
            conn, reader_id, events, idempotency_key=idempotency_key, request_id=request_id
        )

    return await with_retries(pool, work)


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

    async def work(conn: Connection) -> ReaderState:
        await _check_tool(conn, tool)
        has = tool in (await reader_state(conn, reader_id)).bookmarks
        events: list[Event] = []
        if bookmarked and not has:
            events.append(BookmarkAdded(tool=tool))
        elif has and not bookmarked:
            events.append(BookmarkRemoved(tool=tool))
        return await _act(
            conn, reader_id, events, idempotency_key=idempotency_key, request_id=request_id
        )

    return await with_retries(pool, work)
