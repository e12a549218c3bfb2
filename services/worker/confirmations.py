"""Confirmation mails, with the event log as the outbox.

``ingest`` tails the log (gap-safe, by the ``confirmation-outbox`` cursor kept in
``outbox_cursors`` in the same transaction as its rows) and files one
``confirmation_mails`` row per ``SubscriptionRequested`` event, keyed by the event's
position: an at-least-once job can run it twice and file nothing twice. A request
filed while Redis or SMTP is down is simply sent later.

Flood control, decided at ingest in log order (one ingester at a time): a request
whose address already has an unsent confirmation queued is ``suppressed`` as
``coalesced`` (that mail will carry a fresh link); beyond ``CONFIRM_DAILY_LIMIT`` mails
per address in 24 hours, it is ``suppressed`` as ``daily-limit``; beyond
``CONFIRM_HOURLY_LIMIT`` mails to all addresses in an hour, as ``hourly-limit``, so that
rotating addresses and clients cannot make a mail cannon of the form. Suppressed rows
stay, so abuse is visible. Only subscribers still ``pending`` when their turn comes get
mail. The hours and days are the log's (``recorded_at``), not the worker's clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.core.clock import Clock, system_clock
from services.core.config import Settings
from services.core.mail_render import CONFIRM_URL, render_confirmation
from services.core.metrics import count_mails
from services.core.store import Connection, Cursor, Pool
from services.core.streams import SUBSCRIBER
from services.core.tokens import Purpose, Tokens
from services.core.writes import STORE
from services.worker.mime import MailTemplate, Outgoing, mail_domain

from .send_queue import Claimed, SendQueue
from .smtp import Attempt

OUTBOX = "confirmation-outbox"
_INGEST_LOCK = 0x6F757462  # "outb": one ingester at a time keeps the limits exact

CONFIRMATIONS = SendQueue("confirmation_mails", eligible="pending")


async def _decide(
    conn: Connection, subscriber_id: str, at: datetime, daily: int, hourly: int | None
) -> str | None:
    """``None`` to queue a mail, else why it is suppressed."""
    row = await conn.fetchrow(
        "select count(*) filter (where state in ('pending', 'claimed'))::int,"
        " count(*) filter (where state not in ('suppressed', 'skipped')"
        "   and requested_at > $2::timestamptz - interval '1 day')::int"
        " from confirmation_mails where subscriber_id = $1",
        subscriber_id,
        at,
    )
    assert row is not None  # an aggregate always returns its row
    if row[0]:
        return "coalesced"
    if row[1] >= daily:
        return "daily-limit"
    if hourly is None:
        return None
    this_hour: int = await conn.fetchval(
        "select count(*)::int from confirmation_mails where state not in ('suppressed', 'skipped')"
        " and requested_at > $1::timestamptz - interval '1 hour'",
        at,
    )
    return "hourly-limit" if this_hour >= hourly else None


async def ingest(
    pool: Pool, *, daily_limit: int, hourly_limit: int | None = None, page: int = 2000
) -> int:
    """File the confirmation requests appended since the last run; returns how many.

    ``daily_limit`` caps the mails to one address per 24 hours, ``hourly_limit`` the
    mails to all addresses per hour (``None``: no such cap)."""
    filed = 0
    while True:
        suppressed = 0
        async with pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("select pg_try_advisory_xact_lock($1)", _INGEST_LOCK):
                return filed
            row = await conn.fetchrow(
                "select tx_id::text, position from outbox_cursors where name = $1", OUTBOX
            )
            cursor = Cursor(int(row[0]), row[1]) if row else Cursor()
            batch = await STORE.read_after(conn, cursor, limit=page)
            if not batch:
                return filed
            for rec in batch:
                if rec.type != "SubscriptionRequested":
                    continue
                sid = SUBSCRIBER.key(rec.stream_id)
                reason = await _decide(conn, sid, rec.recorded_at, daily_limit, hourly_limit)
                inserted: int = await conn.fetchval(
                    "with ins as (insert into confirmation_mails"
                    " (id, subscriber_id, requested_at, state, detail)"
                    " values ($1, $2, $3, $4, $5) on conflict (id) do nothing returning 1)"
                    " select count(*)::int from ins",
                    rec.position,
                    sid,
                    rec.recorded_at,
                    "suppressed" if reason else "pending",
                    reason,
                )
                filed += inserted
                suppressed += inserted if reason else 0
            last = batch[-1].cursor
            await conn.execute(
                "insert into outbox_cursors (name, tx_id, position)"
                " values ($1, $2::text::xid8, $3)"
                " on conflict (name) do update set tx_id = excluded.tx_id,"
                " position = excluded.position, updated_at = now()",
                OUTBOX,
                str(last.tx_id),
                last.position,
            )
        count_mails(CONFIRMATIONS.table, "suppressed", suppressed)
        if len(batch) < page:
            return filed


@dataclass
class ConfirmationMails:
    """Confirmation mails as a ``dispatch.MailStream``."""

    settings: Settings
    queue: SendQueue = CONFIRMATIONS
    clock: Clock = field(default=system_clock, kw_only=True)
    """Dates the confirm links' tokens (they expire after three days)."""

    def __post_init__(self) -> None:
        self._tokens = Tokens(self.settings.secret_key, clock=self.clock)
        self._site = self.settings.public_url.rstrip("/")
        self._domain = mail_domain(self.settings.mail_from)
        self._template = MailTemplate(
            sender=self.settings.mail_from, mail=render_confirmation(self._site)
        )

    async def claim(self, conn: Connection, owner: str, limit: int, lease: float) -> list[Claimed]:
        return await self.queue.claim(conn, owner, limit, lease)

    def compose(self, item: Claimed, now: datetime) -> Outgoing:
        token = self._tokens.issue(Purpose.CONFIRM, item.subscriber_id)
        return self._template.personalise(
            to=item.email,
            # One request, one Message-ID: a resend of the same request is recognisable.
            message_id=f"<confirm-{item.id}@{self._domain}>",
            date=now,
            fields={CONFIRM_URL: f"{self._site}/subscribe/confirm?token={token}"},
        )

    async def halted(self, conn: Connection) -> bool:
        return False  # confirmations are never held: a reader is waiting for the link

    async def delivered(self, conn: Connection, item: Claimed, message: Outgoing) -> None:
        await self.queue.settle(conn, item.id, "sent")

    async def refused(
        self, conn: Connection, item: Claimed, attempt: Attempt, *, permanent: bool
    ) -> None:
        await self.queue.settle(
            conn,
            item.id,
            "bounced" if permanent else "failed",
            code=attempt.code,
            detail=attempt.detail,
        )
