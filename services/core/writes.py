"""How everything is written: through the write gate, appending events and updating
the inline projections in one transaction, retried when another writer got there first.

The write gate is an advisory lock that every writing transaction takes *shared* as
its first statement. ``replay`` takes it exclusively to swap rebuilt tables in, so
in-flight writers finish and new ones wait there, before they hold any table lock
that could deadlock the swap. Reads never take it, and neither do the group commit's
one-statement appends (``group_commit.py``): the swap's table locks cover those.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from . import metrics
from .errors import StreamVersionConflictError
from .events import Event
from .projections.base import LIVE_TABLES, Projection, project
from .projections.catalog import CATALOG
from .projections.community import COMMUNITY
from .projections.deliveries import DELIVERIES
from .projections.subscribers import SUBSCRIBERS
from .store import AppendResult, Connection, EventStore, IdempotentRequest, Metadata, Pool

INLINE_PROJECTIONS: tuple[Projection[Any], ...] = (CATALOG, COMMUNITY, SUBSCRIBERS, DELIVERIES)
"""Projections updated in the append transaction: a request reads its own writes."""

STORE = EventStore()

_WRITE_GATE = 0x67617465  # "gate"

CONFLICT_ATTEMPTS = 5
"""Tries a write gets when other writers keep moving its stream on."""

T = TypeVar("T")


_BEGIN_GATED = f"begin; select pg_advisory_xact_lock_shared({_WRITE_GATE})"


@contextlib.asynccontextmanager
async def gated_transaction(conn: Connection) -> AsyncIterator[None]:
    """A transaction whose first statement takes the shared write gate; committed when
    the block ends, rolled back when it raises.

    ``BEGIN`` and the gate go to the server as one simple query: one round trip where
    asyncpg's ``transaction()`` and a separate gate statement take two.
    """
    await conn.execute(_BEGIN_GATED)
    try:
        yield
    except BaseException:
        # A connection broken mid-query cannot roll back; the pool discards it.
        with contextlib.suppress(Exception):
            await conn.execute("rollback")
        raise
    await conn.execute("commit")


async def close_write_gate(conn: Connection) -> None:
    """Wait for every writing transaction to end and hold new ones back until commit."""
    await conn.execute("select pg_advisory_xact_lock($1)", _WRITE_GATE)


async def append_and_project(
    conn: Connection,
    stream_id: str,
    events: Sequence[Event],
    *,
    expected_version: int,
    idempotency: IdempotentRequest | None = None,
    metadata: Metadata | None = None,
) -> AppendResult:
    """Append and update the inline projections, inside the caller's transaction."""
    with metrics.APPEND_SECONDS.labels("single").time():
        result = await STORE.append(
            conn,
            stream_id,
            events,
            expected_version=expected_version,
            idempotency=idempotency,
            metadata=metadata,
        )
        if result.recorded and not result.replayed:
            await project(conn, INLINE_PROJECTIONS, LIVE_TABLES, result.recorded)
            metrics.events_appended(rec.type for rec in result.recorded)
    return result


async def append_at_current_version(
    conn: Connection,
    stream_id: str,
    events: Sequence[Event],
    *,
    idempotency: IdempotentRequest | None = None,
    metadata: Metadata | None = None,
) -> AppendResult:
    """``append_and_project`` after whatever the stream holds now: for writers that
    decided on a read made in this same transaction."""
    return await append_and_project(
        conn,
        stream_id,
        events,
        expected_version=await STORE.stream_version(conn, stream_id),
        idempotency=idempotency,
        metadata=metadata,
    )


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[T]], *, attempts: int = CONFLICT_ATTEMPTS
) -> T:
    """Run ``attempt`` again while it raises ``StreamVersionConflictError``, at most
    ``attempts`` times; each attempt must re-read what it decides on."""
    for remaining in range(attempts - 1, -1, -1):
        try:
            return await attempt()
        except StreamVersionConflictError:
            if not remaining:
                raise
    raise ValueError(f"attempts must be at least 1, not {attempts}")


async def run_write_on(conn: Connection, write: Callable[[Connection], Awaitable[T]]) -> T:
    """Run ``write`` in a gated transaction on ``conn``, again on a version conflict.

    For a loop of many short transactions on a connection the caller holds (the mail
    sender's): no pool acquire and release per transaction."""

    async def in_transaction() -> T:
        with metrics.events_counted_on_commit():
            async with gated_transaction(conn):
                return await write(conn)

    return await retry_on_conflict(in_transaction)


async def run_write(pool: Pool, write: Callable[[Connection], Awaitable[T]]) -> T:
    """``run_write_on`` a connection from ``pool``."""
    async with pool.acquire() as conn:
        return await run_write_on(conn, write)
