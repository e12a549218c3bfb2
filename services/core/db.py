"""Connections to PostgreSQL, and what counts as the database being unavailable.

A connection refused for what ``DATABASE_URL`` says (not a URL, no such database,
credentials refused) is a ``DatabaseUrlError`` naming the server, its password hidden:
waiting will not help, unlike an outage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
from asyncpg import exceptions as pg

from .errors import DatabaseUrlError, VerdictsError

# Bounds what an abandoned transaction can cost: tailing readers wait for the oldest
# open writer (see store.py), so no session may sit idle in a transaction for long.
SERVER_SETTINGS = {
    "idle_in_transaction_session_timeout": "10000",
    "statement_timeout": "30000",
    "application_name": "verdicts",
}

RETRY_AFTER_SECONDS = 5
"""What a 503 tells clients to wait: about the time a PostgreSQL restart takes."""

# The server is down, restarting or full, or a pooled connection died with it. asyncpg
# raises these as classes of its own, and connecting raises plain OSError (refused, a
# missing Unix socket, a DNS failure, a connect timeout).
_OUTAGES: tuple[type[BaseException], ...] = (
    pg.PostgresConnectionError,  # SQLSTATE class 08, e.g. ConnectionDoesNotExistError
    pg.CannotConnectNowError,  # 57P03: starting up or shutting down
    pg.AdminShutdownError,  # 57P01: terminated by a (fast) shutdown
    pg.CrashShutdownError,  # 57P02
    pg.TooManyConnectionsError,  # 53300
    OSError,
)
# asyncpg reports a connection that the server closed under it with its base classes:
# InterfaceError ("connection is closed", "the underlying connection is closed") or,
# for an idle pooled connection the server terminated, InternalClientError ("cannot
# switch to state …"; MagicStack/asyncpg#784, #1069). Only these exact classes count:
# their subclasses (DataError, ClientConfigurationError, …) are our mistakes.
_CLOSED_UNDER_US = (pg.InterfaceError, pg.InternalClientError)


class DatabaseUnavailableError(VerdictsError):
    """PostgreSQL cannot be reached or is restarting; trying again later may work."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"the database is unavailable ({type(cause).__name__}: {cause})")
        self.cause = cause


def outage(exc: BaseException) -> DatabaseUnavailableError | None:
    """The outage ``exc`` stands for, if it is one.

    The one place that knows which asyncpg errors mean "unavailable": callers at a
    boundary (the API's error policy, the CLI runner) ask here. Only ``exc`` itself is
    judged, not what it was raised from: a Redis error raised from a refused socket is
    Redis's outage, not the database's.
    """
    if isinstance(exc, DatabaseUnavailableError):
        return exc
    if isinstance(exc, _OUTAGES) or type(exc) in _CLOSED_UNDER_US:
        return DatabaseUnavailableError(exc)
    return None


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
def _connecting(dsn: str) -> Iterator[None]:
    """What ``DATABASE_URL`` got wrong, as ``DatabaseUrlError``; outages pass as they are."""
    try:
        yield
    except (pg.ClientConfigurationError, ValueError) as exc:
        raise DatabaseUrlError(shown(dsn), f"not a PostgreSQL URL ({exc})") from None
    except pg.InvalidCatalogNameError as exc:
        raise DatabaseUrlError(shown(dsn), f"{exc}: create it first") from None
    except pg.InvalidAuthorizationSpecificationError as exc:  # wrong user or password
        raise DatabaseUrlError(shown(dsn), str(exc)) from None


async def create_pool(dsn: str, *, size: int = 10) -> asyncpg.Pool[asyncpg.Record]:
    """A connection pool with the session settings every verdicts connection uses.

    It recovers by itself: a connection the server closed is replaced at its next
    checkout, so after a restart requests succeed again without restarting the app.
    """
    with _connecting(dsn):
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
    with _connecting(dsn):
        return await asyncpg.connect(dsn, server_settings=SERVER_SETTINGS)
