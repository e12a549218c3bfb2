"""Connections to PostgreSQL.

A connection that cannot be made at all (refused, not a URL, no such database, wrong
password) is a ``DatabaseUnreachableError`` naming the server, its password hidden.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg

from .errors import DatabaseUnreachableError

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


def shown(dsn: str) -> str:
    """``dsn`` fit for a message: its password replaced by ``***``."""
    try:
        parts = urlsplit(dsn)
        if parts.password is None:
            return dsn
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    except ValueError:
        return "(DATABASE_URL, not a URL)"


@contextlib.contextmanager
def _reaching(dsn: str) -> Iterator[None]:
    try:
        yield
    except (asyncpg.ClientConfigurationError, ValueError) as exc:
        reason = f"not a PostgreSQL URL ({exc})"
        raise DatabaseUnreachableError(shown(dsn), reason) from None
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseUnreachableError(shown(dsn), f"{exc}: create it first") from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnreachableError(shown(dsn), str(exc) or type(exc).__name__) from None


async def create_pool(dsn: str, *, size: int = 10) -> asyncpg.Pool[asyncpg.Record]:
    """A connection pool with the session settings every verdicts connection uses."""
    with _reaching(dsn):
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
    with _reaching(dsn):
        return await asyncpg.connect(dsn, server_settings=SERVER_SETTINGS)
