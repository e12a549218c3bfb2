"""Group commit: appends from many concurrent callers written by one transaction.

A caller hands its append (stream, events, expected version) to the pool's
``GroupCommitter`` (``group_committer(pool)``) and awaits its own result. Whoever
finds no flush running starts one; a flush takes everything queued, and in one
transaction takes the write gate, inserts all the events with one statement, runs
the inline projections over all of them, and commits; callers arriving meanwhile form
the next group. So the cost of a transaction (round trips, commit, the WAL flush) is
shared by the group.

Per-request meaning is kept: each caller is answered from the rows actually written
(``ON CONFLICT DO NOTHING RETURNING``); a missing row is a ``StreamVersionConflictError``
for that caller alone, and nothing is reported before the commit. If the group's
transaction fails, each of its requests is retried in a transaction of its own, so one
bad request cannot fail the others.

Requests with an idempotency key are not grouped: ``writes.append_and_project`` checks
and records the key in the transaction of the append.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from . import metrics
from .errors import StreamVersionConflictError
from .events import Event, type_name
from .projections.base import LIVE_TABLES, fold_and_write, load_queries
from .store import AppendRequest, AppendResult, Connection, Metadata, PartialAppendError, Pool
from .writes import INLINE_PROJECTIONS, STORE, gated_transaction


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
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        self._queue.append(
            _Waiting(AppendRequest(stream_id, events, expected_version, metadata), future)
        )
        if self._running < self.flushers:
            self._running += 1
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        with metrics.APPEND_SECONDS.labels("group").time():
            return await future

    async def _flush(self) -> None:
        try:
            while self._queue:
                group = self._queue[: self.max_group]
                del self._queue[: self.max_group]
                metrics.GROUP_COMMIT_REQUESTS.observe(len(group))
                await self._commit(group)
        finally:
            self._running -= 1

    async def _commit(self, group: list[_Waiting]) -> None:
        try:
            async with self.pool.acquire() as conn, gated_transaction(conn):
                results = await _append_group(conn, [w.request for w in group])
        except Exception as exc:
            if len(group) == 1:
                r = group[0].request
                if isinstance(exc, PartialAppendError):  # alone, a partial write is a conflict
                    exc = StreamVersionConflictError(r.stream_id, r.expected_version)
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


class _Pending(NamedTuple):
    """An event of a request, before it is written: what the projections' loads need."""

    stream_id: str
    type: str
    event: Event


async def _append_group(
    conn: Connection, requests: list[AppendRequest]
) -> list[AppendResult | None]:
    """Insert the group's events and load what the projections need in one statement,
    then fold and write every projection in another: two round trips between the
    gated ``begin`` and the ``commit``, whatever the group's size."""
    pending = [_Pending(r.stream_id, type_name(e), e) for r in requests for e in r.events]
    loads = load_queries(INLINE_PROJECTIONS, LIVE_TABLES, pending)
    reads = [q for _, queries in loads for q in queries]
    results, rows = await STORE.append_many(conn, requests, reads=reads)
    recorded = [rec for r in results if r is not None for rec in r.recorded]
    recorded.sort(key=lambda rec: rec.position)
    await fold_and_write(conn, loads, rows, LIVE_TABLES, recorded)
    return results


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
