"""What every `verdicts` command shares: the database it works on, the event loop it
runs in, its progress bar, and the one-line error an operator sees.

An operator error is one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from services.core.config import Settings, secret_key_problem
from services.core.db import connect, create_pool, outage
from services.core.errors import VerdictsError
from services.core.store import Connection, Pool

console = Console(stderr=True)
"""Where commands talk to the operator; stdout is kept for what they print as data."""

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Stop the command: ``message`` as one line on stderr, exit code 2."""
    console.print(f"[red]error:[/] {message}", soft_wrap=True, highlight=False)
    sys.exit(2)


def require_signing_key(settings: Settings) -> None:
    """Stop a command that signs or checks tokens unless ``SECRET_KEY`` is fit for it."""
    if problem := secret_key_problem(settings):
        fail(problem)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; a domain error, or the database being unreachable, becomes a
    one-line message and exit code 2."""
    try:
        return asyncio.run(coro)
    except VerdictsError as exc:
        fail(str(exc))
    except Exception as exc:
        if (down := outage(exc)) is None:
            raise
        fail(f"{down}; is DATABASE_URL right and the server up?")


def database_url(settings: Settings) -> str:
    if not settings.database_url:
        raise click.UsageError("DATABASE_URL is not set (the embedded default is `verdicts dev`)")
    return settings.database_url


def with_pool(settings: Settings, use: Callable[[Pool], Awaitable[T]], *, size: int = 2) -> T:
    """Run ``use`` with a pool on ``DATABASE_URL``, closed afterwards."""
    dsn = database_url(settings)

    async def pooled() -> T:
        pool = await create_pool(dsn, size=size)
        try:
            return await use(pool)
        finally:
            await pool.close()

    return run(pooled())


def with_connection(settings: Settings, use: Callable[[Connection], Awaitable[T]]) -> T:
    """Run ``use`` on one connection to ``DATABASE_URL`` outside any pool (replay, verify)."""
    dsn = database_url(settings)

    async def connected() -> T:
        conn = await connect(dsn)
        try:
            return await use(conn)
        finally:
            await conn.close()

    return run(connected())


@contextlib.contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Callable[..., None]]:
    """A progress bar on stderr; yields ``update(completed=..., total=...)``."""
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(**fields: Any) -> None:
            bar.update(task, **fields)

        yield update
