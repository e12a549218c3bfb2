"""`verdicts bounce`: bounces reported after the SMTP server accepted a digest."""

from __future__ import annotations

import sys

import click

from services.core.bounce_reports import Reported, record_reported_bounce
from services.core.config import Settings
from services.core.dsn import NotADsnError, parse_dsn
from services.worker.mime import mail_domain

from .runner import console, fail, with_pool

MAX_MESSAGE_BYTES = 10 * 1024 * 1024


@click.group("bounce")
def bounce_group() -> None:
    """Bounces reported after the SMTP server accepted a message."""


@bounce_group.command()
@click.pass_obj
def ingest(settings: Settings) -> None:
    """Read one message on stdin; if it is a delivery status notification (RFC 3464)
    about a digest, record it as a 5xx at send time would be (the third permanent
    bounce unsubscribes). Exit 0 when recorded or ignored, so a mail server piping its
    bounces here never returns them to the sender; 2 on an error."""
    raw = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
    if len(raw) > MAX_MESSAGE_BYTES:
        fail(f"the message is larger than {MAX_MESSAGE_BYTES // (1024 * 1024)} MiB")
    try:
        report = parse_dsn(raw)
    except NotADsnError as exc:
        console.print(f"ignored: {exc}", soft_wrap=True)
        return
    domain = mail_domain(settings.mail_from)
    result = with_pool(settings, lambda pool: record_reported_bounce(pool, report, domain=domain))
    what = f"{'permanent' if report.permanent else 'transient'} failure {report.status}"
    lines = {
        Reported.RECORDED: f"recorded: {what} ({report.reply_code}) of digest {result.week}"
        f" to subscriber {result.subscriber_id}"
        + ("; that was their third bounce: unsubscribed" if result.unsubscribed else ""),
        Reported.ALREADY_RECORDED: f"already recorded: digest {result.week}"
        f" to subscriber {result.subscriber_id}",
        Reported.DELAYED: f"delayed ({report.status}): the relay is still trying; nothing recorded",
        Reported.NOT_A_FAILURE: f"ignored: the report says {report.action!r}, not a failure",
        Reported.NOT_OURS: "ignored: it is not about a digest this system sent",
    }
    console.print(lines[result.outcome], soft_wrap=True, highlight=False)
