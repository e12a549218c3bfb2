"""Sending an issued digest: one message per frozen recipient, recorded in the log.

The issue was rendered once (``digest_issues``); each message only gets the
recipient's address, its unsubscribe token, a ``Date`` and a ``Message-ID`` stable
per (week, subscriber). A delivery appends ``DigestDelivered`` to the subscriber's
stream in the transaction that settles the row (which is locked and must not be
``sent`` already), so the log records each message the server accepted, and a
duplicate, should an operator ever re-send an ``unknown`` row that had arrived, shows
in the ledger as ``deliveries > 1``. A 5xx appends ``DigestBounced`` (permanent); what
repeated bounces lead to is the subscriber rules' (``subscriptions.record_digest_outcome``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from services.core import digest_control, digest_issues
from services.core.clock import Clock, system_clock
from services.core.config import Settings
from services.core.events import DigestBounced, DigestDelivered
from services.core.mail_render import UNSUBSCRIBE_URL
from services.core.store import Connection, Pool
from services.core.streams import SUBSCRIBER
from services.core.subscriptions import record_digest_outcome
from services.core.tokens import Purpose, Tokens
from services.core.weeks import IsoWeek
from services.worker.mime import MailTemplate, Outgoing, mail_domain

from .dispatch import Dispatcher, Progress
from .send_queue import Claimed, SendQueue
from .smtp import Attempt

RECIPIENTS = SendQueue("digest_recipients", eligible="confirmed")


def message_id(week: IsoWeek, subscriber_id: str, domain: str) -> str:
    """Stable per (week, subscriber): a re-send is recognisably the same message."""
    return f"<digest-{week}-{subscriber_id}@{domain}>"


def list_headers(settings: Settings) -> tuple[tuple[str, str], ...]:
    """The headers every digest message carries besides its own ``List-Unsubscribe``."""
    domain = mail_domain(settings.mail_from)
    return (
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("List-Id", f"Weekly AI Tool Verdicts <digest.{domain}>"),
        ("Precedence", "bulk"),
    )


@dataclass
class DigestMails:
    """One issued week's digest to its frozen recipients, as a ``dispatch.MailStream``."""

    settings: Settings
    week: IsoWeek
    template: MailTemplate
    queue: SendQueue = RECIPIENTS
    clock: Clock = field(default=system_clock, kw_only=True)
    """Dates the unsubscribe links' tokens."""

    def __post_init__(self) -> None:
        self._tokens = Tokens(self.settings.secret_key, clock=self.clock)
        self._site = self.settings.public_url.rstrip("/")
        self._domain = mail_domain(self.settings.mail_from)

    @classmethod
    async def load(
        cls, conn: Connection, settings: Settings, week: IsoWeek, *, clock: Clock = system_clock
    ) -> DigestMails | None:
        """The digest mails of an issued ``week``; ``None`` if it was never issued."""
        mail = await digest_issues.issued_mail(conn, week)
        if mail is None:
            return None
        template = MailTemplate(
            sender=settings.mail_from, mail=mail, headers=list_headers(settings)
        )
        return cls(settings, week, template, clock=clock)

    async def claim(self, conn: Connection, owner: str, limit: int, lease: float) -> list[Claimed]:
        if await self.halted(conn):
            return []
        return await self.queue.claim(conn, owner, limit, lease, week=str(self.week))

    async def halted(self, conn: Connection) -> bool:
        return await digest_control.halted(conn, self.week)

    def compose(self, item: Claimed, now: datetime) -> Outgoing:
        token = self._tokens.issue(Purpose.UNSUBSCRIBE, item.subscriber_id)
        one_click = f"{self._site}/unsubscribe/one-click?token={token}"
        return self.template.personalise(
            to=item.email,
            message_id=message_id(self.week, item.subscriber_id, self._domain),
            date=now,
            fields={UNSUBSCRIBE_URL: f"{self._site}/unsubscribe?token={token}"},
            # https only: no inbound mail path reads a mailto: unsubscribe, so none is
            # advertised (RFC 8058 needs the https URI; RFC 2369 allows it alone).
            headers=(("List-Unsubscribe", f"<{one_click}>"),),
        )

    async def _outcome(
        self,
        conn: Connection,
        item: Claimed,
        outcome: DigestDelivered | DigestBounced,
        state: str,
        attempt: Attempt | None,
    ) -> None:
        version = await self.queue.settle_unless_sent(
            conn,
            item.id,
            state,
            code=attempt.code if attempt else None,
            detail=attempt.detail if attempt else None,
            version_of=SUBSCRIBER.name(item.subscriber_id),
        )
        if version is not None:
            await record_digest_outcome(conn, item.subscriber_id, outcome, expected_version=version)

    async def delivered(self, conn: Connection, item: Claimed, message: Outgoing) -> None:
        event = DigestDelivered(week=str(self.week), message_id=message.message_id)
        await self._outcome(conn, item, event, "sent", None)

    async def refused(
        self, conn: Connection, item: Claimed, attempt: Attempt, *, permanent: bool
    ) -> None:
        event = DigestBounced(week=str(self.week), code=attempt.code or 0, permanent=permanent)
        await self._outcome(conn, item, event, "bounced" if permanent else "failed", attempt)


@dataclass(frozen=True, slots=True)
class WeekRun:
    """What one pass over a week did, and whether the week is complete."""

    week: IsoWeek
    progress: Progress
    reaped_unknown: int
    complete: bool
    halted: bool = False
    """An operator paused (or cancelled) the week: nothing more goes out until resumed."""


async def send_week(
    pool: Pool,
    settings: Settings,
    week: IsoWeek,
    *,
    budget: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    clock: Clock = system_clock,
    stop: asyncio.Event | None = None,
) -> WeekRun:
    """One pass: reap expired leases, send what is due for ``week``, complete it if
    nothing is left. Safe to run from several processes at once. ``stop`` ends the pass
    between messages (``Dispatcher.stop``)."""
    async with pool.acquire() as conn:
        reaped = await RECIPIENTS.reap(conn)
        mails = await DigestMails.load(conn, settings, week, clock=clock)
    if mails is None:
        return WeekRun(week, Progress(), reaped.unknown, complete=False)
    dispatcher = Dispatcher(pool, settings, mails, on_progress=on_progress, clock=clock, stop=stop)
    progress = await dispatcher.run(budget=budget)
    complete = await digest_issues.complete_if_done(pool, week)
    async with pool.acquire() as conn:
        halted = await mails.halted(conn)
    return WeekRun(week, progress, reaped.unknown, complete, halted)
