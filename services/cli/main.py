"""The `verdicts` command: run, migrate, import, replay, verify and inspect."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from services.cli.digest_commands import digest_group
from services.core import subscriptions, tallies
from services.core.catalog_import import import_catalog, load_catalog
from services.core.config import Settings, load_settings
from services.core.db import connect, create_pool
from services.core.errors import VerdictsError
from services.core.migrations import migrate as run_migrations
from services.core.replay import replay as run_replay

console = Console(stderr=True)
T = TypeVar("T")


def _dsn(settings: Settings) -> str:
    if not settings.database_url:
        raise click.UsageError("DATABASE_URL is not set (the embedded default is `verdicts dev`)")
    return settings.database_url


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Verdicts: the event-sourced backend of the AI-tool comparison site."""
    ctx.obj = load_settings()


@main.command()
@click.pass_obj
def dev(settings: Settings) -> None:
    """Run everything locally, embedding PostgreSQL, Redis and SMTP where unset."""
    from services.dev import run_dev

    sys.exit(run_dev(settings))


@main.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply the schema/ migrations not yet applied (safe to run concurrently)."""
    applied = asyncio.run(run_migrations(_dsn(settings)))
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@main.group()
def catalog() -> None:
    """The catalog of tools and comparisons."""


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def catalog_import(settings: Settings, file: Path) -> None:
    """Import tools and comparisons from FILE (.toml or .json); unchanged entries append nothing."""

    async def go() -> None:
        pool = await create_pool(_dsn(settings), size=2)
        try:
            report = await import_catalog(pool, load_catalog(file))
        finally:
            await pool.close()
        for line in report.listed + report.published + report.revised:
            console.print(f"  appended: {line}")
        console.print(f"{report.appended} event(s) appended, {report.unchanged} unchanged")

    _run(go())


@main.group()
def subscriber() -> None:
    """Subscribers of the weekly digest."""


@subscriber.command("erase")
@click.argument("who")
@click.pass_obj
def subscriber_erase(settings: Settings, who: str) -> None:
    """Erase WHO (an email address or a subscriber id): delete the address, keep the log."""

    async def go() -> None:
        pool = await create_pool(_dsn(settings), size=2)
        try:
            sid = await subscriptions.find_subscriber(pool, who)
            await subscriptions.erase_subscriber(pool, sid)
        finally:
            await pool.close()
        console.print(f"erased subscriber {sid}: address deleted, SubscriberErased appended")

    _run(go())


@main.command()
@click.argument("names", nargs=-1)
@click.pass_obj
def replay(settings: Settings, names: tuple[str, ...]) -> None:
    """Rebuild projections NAMES (default: all) from the log while the API keeps serving."""

    async def go() -> None:
        conn = await connect(_dsn(settings))
        try:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
            ) as bar:
                task = bar.add_task("replaying", total=None)
                report = await run_replay(
                    conn,
                    names,
                    on_progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            await conn.close()
        console.print(
            f"rebuilt {', '.join(report.projections)} from {report.events:,} events "
            f"(+{report.caught_up:,} appended meanwhile) and swapped them in"
        )

    _run(go())


@main.command()
@click.pass_obj
def verify(settings: Settings) -> None:
    """Recompute every tally from the log and compare with the projection (exit 1 on drift)."""

    async def go() -> int:
        conn = await connect(_dsn(settings))
        try:
            drifts = await tallies.verify(conn)
        finally:
            await conn.close()
        if not drifts:
            console.print("no drift: every tally matches the log")
            return 0
        table = Table(
            "comparison",
            "tool",
            "projected ship/skip",
            "log ship/skip",
            title=f"{len(drifts)} tally(ies) drifted from the log",
        )
        for d in drifts:
            table.add_row(
                d.comparison,
                d.tool,
                f"{d.projected.ship}/{d.projected.skip}",
                f"{d.from_log.ship}/{d.from_log.skip}",
            )
        console.print(table)
        return 1

    sys.exit(_run(go()))


@main.command()
@click.argument("comparison")
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Tally as it stood then (ISO 8601; UTC when no offset).",
)
@click.pass_obj
def tally(settings: Settings, comparison: str, as_of: datetime | None) -> None:
    """Print the community tally of COMPARISON, now or --as-of a past time."""

    async def go() -> None:
        conn = await connect(_dsn(settings))
        try:
            at = as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of
            result = await tallies.recompute(conn, comparison=comparison, as_of=at)
        finally:
            await conn.close()
        table = Table("tool", "ship", "skip", "ship %", title=f"{comparison} as of {at or 'now'}")
        for (_, tool), t in sorted(result.items()):
            table.add_row(
                tool, str(t.ship), str(t.skip), "—" if t.ship_pct is None else f"{t.ship_pct}%"
            )
        Console().print(table)

    _run(go())


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; a domain error becomes a one-line message and exit code 2."""
    try:
        return asyncio.run(coro)
    except VerdictsError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)


main.add_command(digest_group)

if __name__ == "__main__":
    main()
