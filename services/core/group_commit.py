"""Group commit: appends from many concurrent callers written by one statement.

A caller hands its one-event append (stream, event, expected version) to the pool's
``GroupCommitter`` (``group_committer(pool)``) and awaits its own result. Whoever finds
no flush running starts one; a flush takes what is queued (at most one request per
stream) and writes it in two round trips, with no transaction block:

1. one statement reads what the inline projections need (and the database's time,
   which stamps the events);
2. the projections fold each request's event into that state, and ONE statement
   inserts the events (``ON CONFLICT DO NOTHING``) and stores each projection's changes
   for the requests whose event was inserted. A statement is atomic, so it needs no
   ``BEGIN``/``COMMIT`` of its own.

Reading before the statement is safe because every projection row belongs to one
stream (the counters excepted: they take additive deltas): if a request's event went in
at the version the caller read, nothing else wrote that stream's rows since the read.
``replay`` swaps rebuilt tables under ``ACCESS EXCLUSIVE`` locks taken before its last
read of the log, which such a statement cannot hold half of (see replay.py).

Per-request meaning is kept: each caller is answered from the rows actually written; a
missing row is a ``StreamVersionConflictError`` for that caller alone, and nothing is
reported before the commit. If the group's statement fails, each of its requests is
retried in a statement of its own, so one bad request cannot fail the others.
Requests of several events, and requests with an idempotency key, take a transaction
of their own (``writes.append_and_project``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from . import metrics
from .errors import StreamVersionConflictError
from .events import Event, type_name
from .projections.base import LIVE_TABLES, fold_each, load_queries
from .sql import Query, combined, rows_of
from .store import AppendRequest, AppendResult, Connection, Metadata, Pool
from .writes import INLINE_PROJECTIONS, STORE, append_and_project, run_write


@dataclass(slots=True)
class _Waiting:
    request: AppendRequest
    future: asyncio.Future[AppendResult]


@dataclass(eq=False)
class GroupCommitter:
    """Groups the appends made through one pool. Get it with ``group_committer(pool)``."""

    pool: Pool
    max_group: int = 256
    flushers: int = 2
    """Groups in flight at once: one commits (waits on the WAL flush) while the next forms."""
    _queue: list[_Waiting] = field(default_factory=list)
    _running: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: int,
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` at ``expected_version`` with the next group.

        Returns once the group has committed; raises ``StreamVersionConflictError`` if
        another writer got there first (nothing of this request is written).
        """
        request = AppendRequest(stream_id, events, expected_version, metadata)
        if len(events) != 1:
            return await run_write(self.pool, lambda conn: _alone(conn, request))
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append(_Waiting(request, future))
        if self._running < self.flushers:
            self._running += 1
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        with metrics.APPEND_SECONDS.labels("group").time():
            return await future

    def _next_group(self) -> list[_Waiting]:
        """Up to ``max_group`` queued requests, one per stream; the rest stay queued."""
        group: list[_Waiting] = []
        rest: list[_Waiting] = []
        streams: set[str] = set()
        for waiting in self._queue:
            stream = waiting.request.stream_id
            if len(group) < self.max_group and stream not in streams:
                streams.add(stream)
                group.append(waiting)
            else:
                rest.append(waiting)
        self._queue = rest
        return group

    async def _flush(self) -> None:
        try:
            while self._queue:
                group = self._next_group()
                metrics.GROUP_COMMIT_REQUESTS.observe(len(group))
                await self._commit(group)
        finally:
            self._running -= 1

    async def _commit(self, group: list[_Waiting]) -> None:
        try:
            async with self.pool.acquire() as conn:
                results = await _append_group(conn, [w.request for w in group])
        except Exception as exc:
            if len(group) == 1:
                _settle(group[0].future, exc)
                return
            for waiting in group:  # isolate whichever request made the group fail
                await self._commit([waiting])
            return
        metrics.events_committed(rec.type for r in results if r is not None for rec in r.recorded)
        for waiting, result in zip(group, results, strict=True):
            if result is None:
                r = waiting.request
                _settle(waiting.future, StreamVersionConflictError(r.stream_id, r.expected_version))
            else:
                _settle(waiting.future, result)


async def _alone(conn: Connection, request: AppendRequest) -> AppendResult:
    return await append_and_project(
        conn,
        request.stream_id,
        request.events,
        expected_version=request.expected_version,
        metadata=request.metadata,
    )


class _Stamped(NamedTuple):
    """A request's event before it is written, stamped with the time it will carry."""

    stream_id: str
    type: str
    event: Event
    recorded_at: datetime


async def _append_group(
    conn: Connection, requests: list[AppendRequest]
) -> list[AppendResult | None]:
    """Read what the projections need (and the time), fold each request, then append
    and store the folds of the requests appended: two statements, two round trips."""
    unstamped = [
        _Stamped(r.stream_id, type_name(r.events[0]), r.events[0], _NO_TIME) for r in requests
    ]
    loads = load_queries(INLINE_PROJECTIONS, LIVE_TABLES, unstamped)
    read = combined(None, [_NOW, *(q for _, queries in loads for q in queries)])
    found = await conn.fetchrow(read.sql, *read.args)
    assert found is not None  # a select without from returns its one row
    (now,), *rows = rows_of(found)
    at: datetime = now[0]
    stamped = [[e._replace(recorded_at=at)] for e in unstamped]
    writes = fold_each(loads, rows, LIVE_TABLES, stamped)
    return await STORE.append_and_write(conn, requests, recorded_at=at, writes=writes)


_NOW = Query("select now()")
"""The database's time: the log's clock stamps a group's events as it does any other."""
_NO_TIME = datetime.min.replace(tzinfo=UTC)


def _settle(future: asyncio.Future[AppendResult], outcome: AppendResult | Exception) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


# asyncpg pools take no weak references: keyed by id, pruned of closed pools.
_COMMITTERS: dict[int, GroupCommitter] = {}


def group_committer(pool: Pool) -> GroupCommitter:
    """The group committer of ``pool`` (one per pool, made on first use)."""
    found = _COMMITTERS.get(id(pool))
    if found is None or found.pool is not pool:
        for key, old in list(_COMMITTERS.items()):
            if old.pool.is_closing():
                del _COMMITTERS[key]
        found = _COMMITTERS[id(pool)] = GroupCommitter(pool)
    return found
