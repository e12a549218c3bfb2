"""What readers do: vote ship/skip on a tool of a comparison, change or withdraw that
vote, bookmark and un-bookmark tools.

Each call decides on a fresh read of the reader's state (and, for a vote, the tool's
tally), made in one statement, then appends to the reader's stream at the version it
read, together with the inline projections, in a group commit shared with concurrent
callers (``group_commit.py``); a conflict (the reader acted meanwhile) re-reads and
decides again. The answer includes the change: it is what the decision read, with the
appended events applied. The append succeeded at the version read, so this reader did
nothing in between, and no read after the commit is needed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from .errors import (
    ComparisonWithdrawnError,
    ToolNotInComparisonError,
    UnknownComparisonError,
    UnknownToolError,
)
from .events import BookmarkAdded, BookmarkRemoved, Event, Verdict, VoteCast, VoteWithdrawn
from .group_commit import group_committer
from .projections.community import tally_subject
from .projections.counters import counted
from .reader_state import STATE_COLUMNS, ReaderState, state_from
from .store import Connection, IdempotentRequest, Metadata, Pool
from .streams import READER
from .tallies import NO_VOTES, Tally
from .writes import STORE, append_and_project, retry_on_conflict, run_write


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """The reader's state after a vote, and the tally of the tool voted on."""

    state: ReaderState
    tally: Tally


@dataclass(frozen=True, slots=True)
class _Decision:
    """What an action read (in one statement) and the events it decided to append."""

    state: ReaderState
    version: int
    events: list[Event] = field(default_factory=list)
    tally: Tally = NO_VOTES
    voted: tuple[str, str] | None = None  # (comparison, tool) of a vote

    def after(self) -> _Decision:
        """The decision as it stands once its events are appended."""
        if not self.events:
            return self
        state = self.state.after(self.events)
        tally = self.tally
        if self.voted is not None:
            tally = tally.changed(self.state.vote(*self.voted), state.vote(*self.voted))
        return replace(self, state=state, tally=tally, events=[])


# The reader's state, its stream's version and the tool's existence, then (for votes)
# the comparison's tools and state and the tool's tally: all in one snapshot.
_READ = (
    f"select {STATE_COLUMNS},"
    " (select coalesce(max(stream_version), 0) from events where stream_id = $2),"
    " exists(select 1 from tools where slug = $3)"
)
_READ_VOTE = (
    _READ + ", (select row(tool_a, tool_b, withdrawn_at) from comparisons where slug = $4),"
    " (select row(coalesce(sum(n) filter (where metric = 'ship'), 0)::bigint,"
    "  coalesce(sum(n) filter (where metric = 'skip'), 0)::bigint) from "
    + counted("metric in ('ship', 'skip') and subject = $5")
    + " c)"
)


async def _read_for_vote(conn: Connection, reader_id: str, comparison: str, tool: str) -> _Decision:
    """The decision's inputs; the error a vote on this target deserves, if any."""
    row = await conn.fetchrow(
        _READ_VOTE,
        reader_id,
        READER.name(reader_id),
        tool,
        comparison,
        tally_subject(comparison, tool),
    )
    assert row is not None  # a select without from returns its one row
    target: tuple[str, str, datetime | None] | None = row[6]
    if target is None:
        raise UnknownComparisonError(comparison)
    tool_a, tool_b, withdrawn_at = target
    if tool not in (tool_a, tool_b):
        if not row[5]:
            raise UnknownToolError(tool)
        raise ToolNotInComparisonError(comparison, tool, (tool_a, tool_b))
    if withdrawn_at is not None:
        raise ComparisonWithdrawnError(comparison)
    ship, skip = row[7]
    return _Decision(
        state_from(reader_id, tuple(row)),
        row[4],
        tally=Tally.of(ship, skip),
        voted=(comparison, tool),
    )


Decide = Callable[[Connection], Awaitable[_Decision]]


async def _perform(
    pool: Pool,
    decide: Decide,
    *,
    idempotency: IdempotentRequest | None,
    request_id: str | None,
) -> _Decision:
    """Decide on a fresh read, append with the next group commit, retry on a conflict.

    A request with an idempotency key decides and appends in one transaction of its
    own instead, so that its key is checked and recorded with the append (even when
    the decision appends nothing: the key is spent on this request). A retry of it
    appends nothing and answers with the state as it stands; the same key with another
    request raises ``IdempotencyKeyReusedError``.
    """
    metadata = Metadata(
        request_id=request_id, idempotency_key=idempotency.key if idempotency else None
    )
    if idempotency is not None:

        async def decide_and_append(conn: Connection) -> _Decision:
            replayed = await STORE.replay(conn, idempotency)  # checked before deciding
            decision = await decide(conn)
            if replayed is not None:  # a retry: its events were appended before this read
                return replace(decision, events=[])
            await append_and_project(
                conn,
                READER.name(decision.state.reader_id),
                decision.events,
                expected_version=decision.version,
                idempotency=idempotency,
                metadata=metadata,
            )
            return decision.after()

        return await run_write(pool, decide_and_append)

    group = group_committer(pool)

    async def decide_then_append() -> _Decision:
        async with pool.acquire() as conn:
            decision = await decide(conn)
        if decision.events:
            await group.append(
                READER.name(decision.state.reader_id),
                decision.events,
                expected_version=decision.version,
                metadata=metadata,
            )
        return decision.after()

    return await retry_on_conflict(decide_then_append)


async def cast_vote(
    pool: Pool,
    reader_id: str,
    comparison: str,
    tool: str,
    verdict: Verdict,
    *,
    idempotency: IdempotentRequest | None = None,
    request_id: str | None = None,
) -> VoteOutcome:
    """Make ``verdict`` the reader's standing vote on ``tool`` in ``comparison``."""

    async def decide(conn: Connection) -> _Decision:
        read = await _read_for_vote(conn, reader_id, comparison, tool)
        if read.state.vote(comparison, tool) == verdict:
            return read
        return replace(read, events=[VoteCast(comparison=comparison, tool=tool, verdict=verdict)])

    done = await _perform(pool, decide, idempotency=idempotency, request_id=request_id)
    return VoteOutcome(done.state, done.tally)


async def withdraw_vote(
    pool: Pool,
    reader_id: str,
    comparison: str,
    tool: str,
    *,
    idempotency: IdempotentRequest | None = None,
    request_id: str | None = None,
) -> VoteOutcome:
    """Remove the reader's standing vote on ``tool``; withdrawing no vote is a no-op."""

    async def decide(conn: Connection) -> _Decision:
        read = await _read_for_vote(conn, reader_id, comparison, tool)
        if read.state.vote(comparison, tool) is None:
            return read
        return replace(read, events=[VoteWithdrawn(comparison=comparison, tool=tool)])

    done = await _perform(pool, decide, idempotency=idempotency, request_id=request_id)
    return VoteOutcome(done.state, done.tally)


async def set_bookmark(
    pool: Pool,
    reader_id: str,
    tool: str,
    bookmarked: bool,
    *,
    idempotency: IdempotentRequest | None = None,
    request_id: str | None = None,
) -> ReaderState:
    """Bookmark ``tool`` (or remove the bookmark); repeating either is a no-op."""

    async def decide(conn: Connection) -> _Decision:
        row = await conn.fetchrow(_READ, reader_id, READER.name(reader_id), tool)
        assert row is not None  # a select without from returns its one row
        if not row[5]:
            raise UnknownToolError(tool)
        read = _Decision(state_from(reader_id, tuple(row)), row[4])
        has = tool in read.state.bookmarks
        if bookmarked and not has:
            return replace(read, events=[BookmarkAdded(tool=tool)])
        if has and not bookmarked:
            return replace(read, events=[BookmarkRemoved(tool=tool)])
        return read

    done = await _perform(pool, decide, idempotency=idempotency, request_id=request_id)
    return done.state
