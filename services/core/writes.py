"""One unit of work: append events and update the inline projections, atomically."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from .errors import StreamVersionConflictError
from .events import Event
from .projections.base import LIVE, Projection, project
from .projections.catalog import CATALOG
from .projections.community import COMMUNITY
from .projections.deliveries import DELIVERIES
from .projections.subscribers import SUBSCRIBERS
from .store import AppendResult, Connection, EventStore, Metadata, Pool

INLINE: tuple[Projection[Any], ...] = (CATALOG, COMMUNITY, SUBSCRIBERS, DELIVERIES)
"""Projections updated in the append transaction: a request reads its own writes."""

STORE = EventStore()

_WRITE_GATE = 0x67617465  # "gate"


async def enter_write(conn: Connection) -> None:
    """Take the shared write gate: the first statement of every writing transaction.

    ``replay`` takes the gate exclusively to swap tables, so in-flight writers finish
    and new ones wait here, before they hold any table lock that could deadlock it.
    """
    await conn.execute("select pg_advisory_xact_lock_shared($1)", _WRITE_GATE)


async def close_write_gate(conn: Connection) -> None:
    """Wait for every writing transaction to end and hold new ones back until commit."""
    await conn.execute("select pg_advisory_xact_lock($1)", _WRITE_GATE)


T = TypeVar("T")


async def append(
    conn: Connection,
    stream_id: str,
    events: Sequence[Event],
    *,
    expected_version: int,
    idempotency_key: str | None = None,
    metadata: Metadata | None = None,
) -> AppendResult:
    """Append and project inline, inside the caller's transaction."""
    result = await STORE.append(
        conn,
        stream_id,
        events,
        expected_version=expected_version,
        idempotency_key=idempotency_key,
        metadata=metadata,
    )
    if not result.replayed:
        for projection in INLINE:
            await project(conn, projection, LIVE, result.recorded)
    return result


async def with_retries(
    pool: Pool,
    work: Callable[[Connection], Awaitable[T]],
    *,
    attempts: int = 5,
) -> T:
    """Run ``work`` in a transaction, re-running it on a stream version conflict.

    ``work`` must re-read what it decides on: each attempt starts from a fresh snapshot.
    """
    async with pool.acquire() as conn:
        return await retrying(conn, work, attempts=attempts)


async def retrying(
    conn: Connection,
    work: Callable[[Connection], Awaitable[T]],
    *,
    attempts: int = 5,
) -> T:
    """``with_retries`` on a connection the caller holds: a loop of many short
    transactions (the sender's) skips a pool acquire and reset per transaction."""
    for attempt in range(attempts):
        try:
            async with conn.transaction():
                await enter_write(conn)
                return await work(conn)
        except StreamVersionConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable: attempts must be >= 1")
