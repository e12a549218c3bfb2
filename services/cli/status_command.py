"""`verdicts status`: where the system stands, from the database."""

from __future__ import annotations

import click
import msgspec
from rich.console import Console
from rich.table import Table

from services.core.config import Settings
from services.core.digest_issues import DigestStatus
from services.core.status import SystemStatus, read_status
from services.core.store import Pool

from .runner import with_pool


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@click.pass_obj
def status_command(settings: Settings, as_json: bool) -> None:
    """The log, each projection's position and lag, pending confirmations, the digests
    in flight and the last one, and the oldest open writer."""

    async def read(pool: Pool) -> SystemStatus:
        async with pool.acquire() as conn:
            return await read_status(conn, count_events=True)

    status = with_pool(settings, read)
    if as_json:
        click.echo(msgspec.json.encode(status).decode())
        return
    _print(Console(soft_wrap=True), status)


def _print(out: Console, s: SystemStatus) -> None:
    oldest = s.oldest_open_writer_seconds
    out.print(
        f"log: {s.events:,} events, head at position {s.head_position:,};"
        f" {s.unsettled_events} not yet visible to tailing readers;"
        f" oldest open writer: {'none' if oldest is None else f'{oldest:.1f} s'}"
    )
    table = Table("projection", "position", "behind", "what lag means here")
    for p in s.projections:
        table.add_row(p.name, f"{p.position:,}", f"{p.behind:,}", p.note)
    out.print(table)
    mails = ", ".join(f"{n} {state}" for state, n in sorted(s.confirmation_mails.items()))
    out.print(
        f"confirmations: {mails or 'none waiting'};"
        f" {s.pending_subscribers} subscriber(s) have not confirmed yet"
    )
    if not s.digests:
        out.print("digest: none issued yet")
    for d in s.digests:
        out.print(_digest_line(d))


def _digest_line(d: DigestStatus) -> str:
    if d.cancelled_at:
        where = f"cancelled {d.cancelled_at:%Y-%m-%d %H:%M} UTC"
    elif d.paused_at:
        where = f"paused since {d.paused_at:%Y-%m-%d %H:%M} UTC"
    elif d.completed_at:
        where = f"completed {d.completed_at:%Y-%m-%d %H:%M} UTC"
    else:
        where = "sending"
    counts = ", ".join(f"{n} {state}" for state, n in sorted(d.states.items()))
    issued = f"{d.issued_at:%Y-%m-%d %H:%M} UTC" if d.issued_at else "?"
    return (
        f"digest {d.week}: issued {issued}, {where}; {d.recipients} recipient(s): {counts};"
        f" ledger: {d.delivered} delivered, {d.bounced} bounced"
    )
