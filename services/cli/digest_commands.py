"""`verdicts digest`: preview, send and inspect the weekly digest from a shell."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import click
import msgspec
from rich.console import Console
from rich.table import Table

from services.core import digest_control, digest_issues
from services.core.clock import system_clock
from services.core.config import Settings
from services.core.digest_control import Control
from services.core.errors import VerdictsError
from services.core.mail_render import UNSUBSCRIBE_URL, RenderedMail
from services.core.store import Pool
from services.core.subscriptions import find_subscriber
from services.core.weeks import IsoWeek
from services.worker.digest_delivery import send_week
from services.worker.digest_proof import Proof, send_proof
from services.worker.dispatch import Progress as DispatchProgress
from services.worker.stopping import stop_on_signals
from services.worker.unknown_deliveries import Resolution, resolve_unknown

from .runner import console, fail, progress_bar, require_signing_key, smtp_target, with_pool


class WeekType(click.ParamType[IsoWeek]):
    name = "week"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> IsoWeek:
        if isinstance(value, IsoWeek):
            return value
        try:
            return IsoWeek.parse(str(value))
        except VerdictsError as exc:
            self.fail(str(exc), param, ctx)


WEEK = click.option(
    "--week",
    type=WeekType(),
    metavar="YYYY-Www",
    help="ISO week, e.g. 2026-W47 (default: the last complete week, Monday to Sunday UTC:"
    " the one the scheduled digest covers).",
)


def chosen_week(week: IsoWeek | None) -> IsoWeek:
    """``--week``, or the one default every digest command shares: the last complete week."""
    return week or IsoWeek.last_complete(system_clock())


@click.group("digest")
def digest_group() -> None:
    """The weekly verdict digest."""


@digest_group.command()
@WEEK
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory for digest-<week>.html and .txt.",
)
@click.pass_obj
def preview(settings: Settings, week: IsoWeek | None, out: Path) -> None:
    """Write the digest of --week as HTML and text files (as issued, if it was); sends nothing."""
    target = chosen_week(week)

    async def render(pool: Pool) -> RenderedMail | None:
        async with pool.acquire() as conn:
            return await digest_issues.preview(conn, settings, target)

    mail = with_pool(settings, render)
    if mail is None:
        fail(f"nothing published in {target}: there is no digest to preview")
    sample = f"{settings.public_url.rstrip('/')}/unsubscribe?token=preview"
    out.mkdir(parents=True, exist_ok=True)
    for suffix, body in (("html", mail.html), ("txt", mail.text)):
        path = out / f"digest-{target}.{suffix}"
        path.write_text(body.replace(UNSUBSCRIBE_URL, sample))
        console.print(f"wrote {path}")
    console.print(f"subject: {mail.subject}")


@digest_group.command("test")
@click.option("--to", required=True, metavar="ADDRESS", help="Where the one test message goes.")
@WEEK
@click.pass_obj
def test_message(settings: Settings, to: str, week: IsoWeek | None) -> None:
    """Send one real message of --week's digest to ADDRESS, marked as a test ([TEST]
    subject, X-Verdicts-Test header); nothing is recorded."""
    target = chosen_week(week)
    smtp_target(settings)

    async def prove(pool: Pool) -> Proof:
        return await send_proof(pool, settings, target, to, clock=system_clock)

    proof = with_pool(settings, prove)
    console.print(f"sent a test of {proof.week} to {proof.to}: {proof.subject}", soft_wrap=True)


WEEK_ARGUMENT = click.argument("week", type=WeekType(), metavar="WEEK")


@digest_group.command()
@WEEK_ARGUMENT
@click.pass_obj
def pause(settings: Settings, week: IsoWeek) -> None:
    """Hold WEEK's send: senders stop before their next message, until `resume`."""
    result = with_pool(settings, lambda pool: digest_control.pause(pool, week))
    if result.outcome is Control.ALREADY_PAUSED:
        console.print(f"{week} was already paused")
        return
    console.print(
        f"paused {week}: nothing more goes out until `verdicts digest resume {week}`",
        soft_wrap=True,
    )


@digest_group.command()
@WEEK_ARGUMENT
@click.pass_obj
def resume(settings: Settings, week: IsoWeek) -> None:
    """Let WEEK's send go on (the worker's next delivery pass, within 10 s, takes it up)."""
    result = with_pool(settings, lambda pool: digest_control.resume(pool, week))
    if result.outcome is Control.NOT_PAUSED:
        console.print(f"{week} was not paused")
        return
    console.print(
        f"resumed {week}: the worker goes on with it (or `verdicts digest send`)", soft_wrap=True
    )


@digest_group.command()
@WEEK_ARGUMENT
@click.pass_obj
def cancel(settings: Settings, week: IsoWeek) -> None:
    """Stop WEEK for good: whoever has not been sent it yet never will be."""
    result = with_pool(settings, lambda pool: digest_control.cancel(pool, week))
    if result.outcome is Control.ALREADY_CANCELLED:
        console.print(f"{week} was already cancelled")
        return
    done = "completed" if result.completed else "completes once the message in flight is recorded"
    console.print(
        f"cancelled {week}: {result.cancelled} recipient(s) will not get it; {done}", soft_wrap=True
    )


@digest_group.command()
@WEEK
@click.pass_obj
def send(settings: Settings, week: IsoWeek | None) -> None:
    """Issue the digest of --week and send it now.

    Running it again for the same week sends nothing new. Stops with exit code 1 if
    the SMTP server cannot be reached (what is left waits for the next run). SIGTERM or
    Ctrl-C stops it gracefully (exit 0): the messages in flight finish and are
    recorded, claimed rows go back, and the next run sends the rest; a second signal
    stops it at once."""
    require_signing_key(settings)  # every digest carries signed unsubscribe links
    target = chosen_week(week)
    smtp_target(settings)  # before issuing: a bad SMTP_URL must not leave an issue unsent

    async def issue_and_send(pool: Pool) -> int:
        stopping = stop_on_signals(_say_stopping)
        result = await digest_issues.issue(pool, settings, target)
        if result.outcome is digest_issues.IssueOutcome.NOTHING_NEW:
            console.print(f"nothing published in {target}: nothing to send")
            return 0
        verb = "issued" if result.outcome is digest_issues.IssueOutcome.ISSUED else "already issued"
        console.print(
            f"{target} {verb}: {result.comparisons} comparison(s), {result.recipients} recipient(s)"
        )
        return await _send_until_done(pool, settings, target, result.recipients, stopping)

    sys.exit(with_pool(settings, issue_and_send, size=settings.smtp_connections + 2))


def _say_stopping(sig: signal.Signals) -> None:
    console.print(
        f"[yellow]{sig.name}[/]: finishing the messages in flight, then stopping"
        " (send it again to stop at once)"
    )


async def _send_until_done(
    pool: Pool, settings: Settings, week: IsoWeek, total: int, stopping: asyncio.Event
) -> int:
    sent_now = 0
    with progress_bar(f"sending {week}", total) as update:

        async def settled() -> int:
            async with pool.acquire() as conn:
                s = await digest_issues.status(conn, week)
            return s.recipients - s.pending

        update(completed=await settled())
        while True:
            base = await settled()

            def show(p: DispatchProgress, base: int = base) -> None:
                update(completed=base + p.settled)

            run = await send_week(pool, settings, week, on_progress=show, stop=stopping)
            sent_now += run.progress.sent
            update(completed=await settled())
            if run.complete:
                break
            if stopping.is_set():
                console.print("stopped: the rest is pending; run the same command to send it")
                break
            if run.halted:
                console.print(f"{week} is paused: `verdicts digest resume {week}` goes on")
                return 1
            if run.progress.smtp_down:
                console.print(f"[red]{run.progress.smtp_down}[/]: run again later")
                return 1
            # Rows leased by another (or a killed) sender, or waiting for a retry.
            await asyncio.sleep(min(1.0, settings.mail_retry_seconds))
    async with pool.acquire() as conn:
        s = await digest_issues.status(conn, week)
    console.print(
        f"sent {sent_now} now; {week}: {s.sent} sent, {s.states.get('bounced', 0)} bounced,"
        f" {s.states.get('failed', 0)} failed, {s.states.get('skipped', 0)} skipped,"
        f" {s.states.get('unknown', 0)} unknown"
    )
    return 0


@digest_group.command()
@WEEK
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON on stdout.")
@click.pass_obj
def status(settings: Settings, week: IsoWeek | None, as_json: bool) -> None:
    """How many of --week's digest are sent, pending, bounced, failed, unknown."""
    target = chosen_week(week)

    async def read_status(pool: Pool) -> digest_issues.DigestStatus:
        async with pool.acquire() as conn:
            return await digest_issues.status(conn, target)

    s = with_pool(settings, read_status)
    if as_json:
        click.echo(msgspec.json.encode(s).decode())
        return
    if s.issued_at is None:
        fail(f"{target} has not been issued (`verdicts digest send --week {target}` does)")
    _print_status(target, s)


def _print_status(week: IsoWeek, s: digest_issues.DigestStatus) -> None:
    table = Table("state", "count", title=f"digest {week}")
    table.add_row("recipients (frozen at issue)", str(s.recipients))
    for state in (
        "sent",
        "pending",
        "claimed",
        "sending",
        "unknown",
        "bounced",
        "failed",
        "skipped",
        "cancelled",
    ):
        table.add_row(state, str(s.states.get(state, 0)))
    table.add_row("ledger: delivered", str(s.delivered))
    table.add_row("ledger: duplicate deliveries", str(s.duplicates))
    Console().print(table)
    done = f"completed {s.completed_at:%Y-%m-%d %H:%M} UTC" if s.completed_at else "in progress"
    if s.paused_at:
        done = f"paused since {s.paused_at:%Y-%m-%d %H:%M} UTC"
    if s.cancelled_at:
        done = f"cancelled {s.cancelled_at:%Y-%m-%d %H:%M} UTC, {done}"
    console.print(f"issued {s.issued_at:%Y-%m-%d %H:%M} UTC, {done}")
    if s.states.get("unknown"):
        console.print(
            "[yellow]unknown[/]: sent with no reply from the server, or their sender"
            " died mid-transaction; they may have been delivered and are never re-sent"
            f" on their own: `verdicts digest resolve {week} --delivered|--resend`"
        )


@digest_group.command()
@click.argument("week", type=WeekType(), metavar="YYYY-Www")
@click.option("--delivered", is_flag=True, help="They arrived: record the deliveries.")
@click.option("--resend", is_flag=True, help="They did not: send them with the next send.")
@click.option("--subscriber", metavar="WHO", help="Only this subscriber's (id or address).")
@click.pass_obj
def resolve(
    settings: Settings, week: IsoWeek, delivered: bool, resend: bool, subscriber: str | None
) -> None:
    """Settle WEEK's rows left `unknown` once the relay's log tells what became of them.

    --delivered marks them sent and appends DigestDelivered (the ledger counts them);
    --resend puts them back to pending for the next `verdicts digest send`."""
    if delivered == resend:
        fail("say what became of them: --delivered or --resend (one of the two)")
    resolution: Resolution = "delivered" if delivered else "resend"

    async def settle(pool: Pool) -> list[str]:
        who = None if subscriber is None else await find_subscriber(pool, subscriber)
        return await resolve_unknown(pool, settings, week, resolution, subscriber_id=who)

    settled = with_pool(settings, settle)
    if not settled:
        console.print(f"{week}: no unknown rows")
        return
    for sid in settled:
        console.print(f"  {sid}")
    if delivered:
        console.print(f"{week}: {len(settled)} row(s) marked sent, DigestDelivered appended")
    else:
        console.print(
            f"{week}: {len(settled)} row(s) back to pending:"
            f" `verdicts digest send --week {week}` sends them"
        )
