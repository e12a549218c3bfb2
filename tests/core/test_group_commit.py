"""Group commit keeps each caller's meaning: answered from its own rows, conflicts
and failures for that caller alone."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.core.errors import StreamVersionConflictError
from services.core.events import BookmarkAdded, VoteCast
from services.core.group_commit import group_committer
from services.core.store import AppendResult, Pool


def _vote(tool: str = "a") -> VoteCast:
    return VoteCast(comparison="c", tool=tool, verdict="ship")


async def test_concurrent_callers_each_get_their_own_rows(pool: Pool) -> None:
    streams = [f"reader-{uuid.uuid4()}" for _ in range(60)]
    group = group_committer(pool)
    results = await asyncio.gather(
        *(group.append(s, [_vote()], expected_version=0) for s in streams)
    )
    assert [r.recorded[0].stream_id for r in results] == streams
    assert len({r.recorded[0].position for r in results}) == 60
    assert await pool.fetchval("select count(*) from events") == 60
    assert await pool.fetchval("select count(*) from reader_votes") == 60
    assert group_committer(pool) is group


async def test_same_version_twice_exactly_one_wins(pool: Pool) -> None:
    stream = f"reader-{uuid.uuid4()}"
    outcomes = await asyncio.gather(
        *(group_committer(pool).append(stream, [_vote(t)], expected_version=0) for t in "ab"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == [
        "AppendResult",
        "StreamVersionConflictError",
    ]
    assert await pool.fetchval("select count(*) from events where stream_id = $1", stream) == 1


async def test_a_partly_conflicting_request_writes_nothing_and_others_commit(pool: Pool) -> None:
    busy, free = f"reader-{uuid.uuid4()}", f"reader-{uuid.uuid4()}"
    group = group_committer(pool)
    await group.append(busy, [BookmarkAdded(tool="x")], expected_version=0)
    stale, fine = await asyncio.gather(
        group.append(busy, [BookmarkAdded(tool="y"), BookmarkAdded(tool="z")], expected_version=0),
        group.append(free, [BookmarkAdded(tool="y")], expected_version=0),
        return_exceptions=True,
    )
    assert isinstance(stale, StreamVersionConflictError)
    assert isinstance(fine, AppendResult)
    rows = await pool.fetch("select stream_id, stream_version from events order by position")
    assert [tuple(r) for r in rows] == [(busy, 1), (free, 1)]


async def test_a_failing_request_fails_alone(pool: Pool) -> None:
    good = [f"reader-{uuid.uuid4()}" for _ in range(5)]
    group = group_committer(pool)
    outcomes = await asyncio.gather(
        group.append("reader-not-a-uuid", [_vote()], expected_version=0),
        *(group.append(s, [_vote()], expected_version=0) for s in good),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], asyncpg.DataError)
    assert all(isinstance(o, AppendResult) for o in outcomes[1:])
    assert await pool.fetchval("select count(*) from events") == 5


async def test_a_cancelled_caller_does_not_break_the_group(pool: Pool) -> None:
    group = group_committer(pool)
    first = asyncio.create_task(
        group.append(f"reader-{uuid.uuid4()}", [_vote()], expected_version=0)
    )
    second = asyncio.create_task(
        group.append(f"reader-{uuid.uuid4()}", [_vote()], expected_version=0)
    )
    await asyncio.sleep(0)
    first.cancel()
    assert isinstance(await second, AppendResult)
    with pytest.raises(asyncio.CancelledError):
        await first
