"""Connections to PostgreSQL."""

from __future__ import annotations

import asyncpg

# Bounds what an abandoned transaction can cost: tailing readers wait for the oldest
# open writer (see store.py), so no session may sit idle in a transaction for long.
SERVER_SETTINGS = {
    "idle_in_transaction_session_timeout": "10000",
    "statement_timeout": "30000",
    "application_name": "verdicts",
}


async def _keep_session(conn: asyncpg.Connection[asyncpg.Record]) -> None:
    """Pool reset: nothing beyond asyncpg's own rollback of an open transaction.

    The default reset sends ``RESET ALL; CLOSE ALL; UNLISTEN *; …`` on every release, a
    round trip per checkout. Pooled connections carry no session state to undo: locks
    are transaction-scoped and settings ``set local``.
    """


async def create_pool(dsn: str, *, size: int = 10) -> asyncpg.Pool[asyncpg.Record]:
    """A connection pool with the session settings every verdicts connection uses."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min(2, size),
        max_size=size,
        server_settings=SERVER_SETTINGS,
        reset=_keep_session,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection[asyncpg.Record]:
    """A single connection outside any pool (migrations, replay, LISTEN)."""
    return await asyncpg.connect(dsn, server_settings=SERVER_SETTINGS)
