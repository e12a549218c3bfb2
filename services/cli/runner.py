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
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from services.core import dev_servers
from services.core.config import Settings, SmtpTarget, secret_key_problem
from services.core.db import connect, create_pool, outage
from services.core.errors import VerdictsError
from services.core.store import Connection, Pool

console = Console(stderr=True)
"""Where commands talk to the operator; stdout is kept for what they print as data."""

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Stop the command: ``message`` as one line on stderr, exit code 2."""
    # Escaped: a message quoting input or a command ("verdicts[embedded]") is not markup.
    console.print(f"[red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    sys.exit(2)


class OneLineErrors(click.Group):
    """A command group whose usage errors (a bad option, a missing argument) are one line
    and exit code 2 too, instead of click's usage block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, **{**kwargs, "standalone_mode": False})
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # `verdicts` or `verdicts digest` alone: the help it asked for
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
            fail(f"{exc.format_message()}{where}")
        except click.ClickException as exc:
            fail(exc.format_message())
        except click.Abort:
            sys.exit(130)  # Ctrl-C, as a shell reports it
        sys.exit(result if isinstance(result, int) else 0)


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


def not_set(settings: Settings, name: str) -> str:
    """Why ``name`` has no value here, in words an operator can act on."""
    published = dev_servers.env_file(settings.data_dir)
    if dev_servers.state(published) is dev_servers.FileState.STALE:
        return (
            f"{name} is not set, and {published} was left by a `verdicts dev` that is no "
            f"longer running: start it again, or set {name}"
        )
    return (
        f"{name} is not set (a `verdicts dev` running in this folder publishes it in {published})"
    )


def database_url(settings: Settings) -> str:
    """``DATABASE_URL``, or a one-line error saying why it is missing."""
    if not settings.database_url:
        fail(not_set(settings, "DATABASE_URL"))
    return settings.database_url


def smtp_target(settings: Settings) -> SmtpTarget:
    """Where mail goes, checked before anything is issued: unset or unusable stops here."""
    if not settings.smtp_url:
        fail(not_set(settings, "SMTP_URL"))
    try:
        return settings.smtp
    except VerdictsError as exc:
        fail(str(exc))


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
