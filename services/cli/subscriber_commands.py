"""`verdicts subscriber`: the digest's subscribers."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
import msgspec
from rich.console import Console
from rich.table import Table

from services.core import subscriptions
from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriber_import import (
    ImportFileError,
    ImportReport,
    import_confirmed,
    read_import_file,
)
from services.core.subscriber_records import (
    STATUSES,
    SubscriberRecord,
    export_subscribers,
    list_subscribers,
    subscriber_record,
)

from .runner import console, fail, with_pool


@click.group("subscriber")
def subscriber_group() -> None:
    """Subscribers of the weekly digest."""


@subscriber_group.command("erase")
@click.argument("who")
@click.pass_obj
def erase(settings: Settings, who: str) -> None:
    """Erase WHO (an email address or a subscriber id): delete the address, keep the log."""

    async def erase_one(pool: Pool) -> str:
        sid = await subscriptions.find_subscriber(pool, who)
        await subscriptions.erase_subscriber(pool, sid)
        return sid

    sid = with_pool(settings, erase_one)
    console.print(f"erased subscriber {sid}: address deleted, SubscriberErased appended")


@subscriber_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only subscribers in this status.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout, one array.")
@click.pass_obj
def list_(settings: Settings, status: str | None, as_json: bool) -> None:
    """Subscribers (of --status), oldest request first."""

    async def read(pool: Pool) -> list[SubscriberRecord]:
        async with pool.acquire() as conn:
            return await list_subscribers(conn, status)

    records = with_pool(settings, read)
    if as_json:
        click.echo(msgspec.json.encode(records).decode())
        return
    # Plain columns, one subscriber a line: whole addresses, easy to grep and cut.
    width = max((len(r.email or "") for r in records), default=5)
    click.echo(f"{'id':36}  {'email':{width}}  {'status':12}  {'requested':16}  bounces")
    for r in records:
        click.echo(
            f"{r.subscriber_id:36}  {r.email or '(erased)':{width}}  {r.status:12}"
            f"  {r.requested_at:%Y-%m-%d %H:%M}  {r.bounces}"
        )
    console.print(f"{len(records)} subscriber(s)")


@subscriber_group.command()
@click.argument("who")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.pass_obj
def show(settings: Settings, who: str, as_json: bool) -> None:
    """WHO (an email address or a subscriber id): status and history from the log."""

    async def read(pool: Pool) -> SubscriberRecord:
        sid = await subscriptions.find_subscriber(pool, who)
        async with pool.acquire() as conn:
            return await subscriber_record(conn, sid)

    record = with_pool(settings, read)
    if as_json:
        click.echo(msgspec.json.encode(record).decode())
        return
    out = Console(soft_wrap=True)
    out.print(f"{record.subscriber_id}  {record.email or '(address erased)'}  {record.status}")
    out.print(f"bounces: {record.bounces}; unsubscribe reason: {record.unsubscribe_reason or '-'}")
    table = Table("position", "at (UTC)", "event", "detail", "by")
    for h in record.history:
        by = h.actor or (f"request {h.request_id}" if h.request_id else "")
        table.add_row(str(h.position), f"{h.at:%Y-%m-%d %H:%M:%S}", h.event, h.detail, by)
    out.print(table)


@subscriber_group.command()
@click.option("--csv", "as_csv", is_flag=True, help="CSV, one row per subscriber.")
@click.pass_obj
def export(settings: Settings, as_csv: bool) -> None:
    """Everything held about every subscriber, with their history from the log, on
    stdout: JSON (an array), or CSV with the history in one column."""

    async def read(pool: Pool) -> list[SubscriberRecord]:
        async with pool.acquire() as conn:
            return await export_subscribers(conn)

    records = with_pool(settings, read)
    if not as_csv:
        click.echo(msgspec.json.encode(records).decode())
        return
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([*SubscriberRecord.__struct_fields__])
    for r in records:
        history = "; ".join(f"{h.at.isoformat()} {h.event} {h.detail}".strip() for h in r.history)
        out.writerow([*msgspec.structs.astuple(r)[:-1], history])
    console.print(f"exported {len(records)} subscriber(s)")


@subscriber_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def import_(settings: Settings, file: Path) -> None:
    """Confirm the addresses in FILE (CSV with an `email` column) without a
    confirmation mail. Only for addresses whose consent you hold. Re-running it
    imports nothing twice; a file with a bad row imports nothing."""
    try:
        rows = read_import_file(file)
    except ImportFileError as exc:
        fail(str(exc))
    for problem in rows.problems:
        console.print(f"{file}: {problem}", soft_wrap=True, highlight=False)
    if rows.problems:
        fail(f"{len(rows.problems)} bad row(s) in {file}: nothing imported")
    if rows.ignored_columns:
        console.print(f"ignored column(s): {', '.join(rows.ignored_columns)}")

    async def import_rows(pool: Pool) -> ImportReport:
        return await import_confirmed(pool, rows.addresses)

    report = with_pool(settings, import_rows)
    console.print(
        f"{report.confirmed} confirmed, {report.already_confirmed} already confirmed,"
        f" {report.unsubscribed} unsubscribed left as they are"
        f" ({rows.duplicates} duplicate row(s) in the file); no confirmation mail is sent",
        soft_wrap=True,
    )
