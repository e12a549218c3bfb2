"""Sending a queue's due rows over a few SMTP connections, batch by batch.

Each of ``SMTP_CONNECTIONS`` lanes claims ``MAIL_BATCH_SIZE`` rows under a lease and
walks them with one transaction per message: it records the previous message's
outcome and marks the next row ``sending`` (re-checking that its subscriber may still
get it), commits, then runs that row's SMTP transaction on the lane's reused
connection. No database transaction is open while SMTP runs.

The ``unknown`` window is one message per lane: from the commit that marks a row
``sending`` to the commit that records its outcome, i.e. one SMTP transaction plus one
short database transaction (a few milliseconds against a local server; at most the
SMTP timeout). Only a crash, a kill, or a connection lost after the message and its
final dot were sent (``smtp.py``: the stages) leaves a row ``unknown``; ``verdicts
digest resolve`` settles it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from typing import Protocol

from services.core.clock import Clock, system_clock
from services.core.config import Settings
from services.core.metrics import count_mails
from services.core.store import Connection, Pool
from services.core.writes import run_write_on
from services.worker.mime import Outgoing, mail_domain

from .send_queue import Claimed, SendQueue
from .smtp import Attempt, Result, SmtpLink, SmtpUnavailableError

log = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0


class MailStream(Protocol):
    """One stream of mail to send: confirmation mails, or one week's digest. What
    differs between them: which rows are due, the message, and what its outcome
    records. ``delivered`` and ``refused`` run inside the dispatcher's transaction and
    settle the row."""

    queue: SendQueue

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease: float
    ) -> list[Claimed]: ...

    def compose(self, item: Claimed, now: datetime) -> Outgoing: ...

    async def delivered(self, conn: Connection, item: Claimed, message: Outgoing) -> None: ...

    async def refused(
        self, conn: Connection, item: Claimed, attempt: Attempt, *, permanent: bool
    ) -> None: ...

    async def halted(self, conn: Connection) -> bool:
        """Whether an operator holds this stream: checked before each message."""
        ...


Done = tuple[Claimed, Outgoing, Attempt]


@dataclass
class Progress:
    """What a run did, by outcome."""

    sent: int = 0
    bounced: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    skipped: int = 0
    smtp_down: str | None = None

    @property
    def settled(self) -> int:
        return self.sent + self.bounced + self.failed + self.unknown + self.skipped


@dataclass
class Dispatcher:
    """Sends what ``mail`` has due, until nothing is due or the time budget is spent."""

    pool: Pool
    settings: Settings
    mail: MailStream
    owner: str = field(default_factory=lambda: f"sender-{uuid.uuid4().hex[:12]}")
    on_progress: Callable[[Progress], None] | None = None
    clock: Clock = system_clock
    """Dates each message (its ``Date`` header)."""
    stop: asyncio.Event | None = None
    """Set (by SIGTERM, say): each lane finishes its message in flight, records its
    outcome, gives its other claimed rows back and ends."""

    def __post_init__(self) -> None:
        self.sender = parseaddr(self.settings.mail_from)[1]
        self.progress = Progress()

    async def run(self, *, budget: float | None = None) -> Progress:
        """One pass over the due rows; returns what happened (``smtp_down`` if the
        server could not be reached: the untouched rows wait ``MAIL_RETRY_SECONDS``)."""
        self.progress = Progress()
        deadline = None if budget is None else time.monotonic() + budget
        links = [
            SmtpLink(self.settings.smtp, local_hostname=mail_domain(self.settings.mail_from))
            for _ in range(max(1, self.settings.smtp_connections))
        ]
        try:
            await asyncio.gather(*(self._lane(link, deadline) for link in links))
        finally:
            await asyncio.gather(*(link.close() for link in links))
        return self.progress

    def _more(self, deadline: float | None) -> bool:
        in_time = deadline is None or time.monotonic() < deadline
        stopped = self.stop is not None and self.stop.is_set()
        return in_time and not stopped and self.progress.smtp_down is None

    async def _lane(self, link: SmtpLink, deadline: float | None) -> None:
        s = self.settings
        while self._more(deadline):
            # One connection per batch for its per-message transactions (no pool
            # acquire and reset per message). Giving rows back takes another from the
            # pool: this one may be unusable if a cancel interrupted its query.
            async with self.pool.acquire() as conn:
                async with conn.transaction():
                    batch = await self.mail.claim(
                        conn, self.owner, s.mail_batch_size, s.mail_lease_seconds
                    )
                if not batch:
                    return
                await self._send_batch(conn, link, batch, deadline)

    async def _send_batch(
        self, conn: Connection, link: SmtpLink, batch: list[Claimed], deadline: float | None
    ) -> None:
        queue, s = self.mail.queue, self.settings
        upcoming = batch
        try:
            current, upcoming = await self._step(conn, None, upcoming, deadline)
            while current is not None:
                message = self.mail.compose(current, self.clock())
                try:
                    attempt = await link.send(self.sender, message)
                except SmtpUnavailableError as exc:
                    self.progress.smtp_down = str(exc)
                    async with self.pool.acquire() as other:
                        await queue.retry(
                            other,
                            current.id,
                            delay=s.mail_retry_seconds,
                            counted=False,
                            code=None,
                            detail=str(exc),
                        )
                    return
                current, upcoming = await self._step(
                    conn, (current, message, attempt), upcoming, deadline
                )
        finally:
            # Rows still only claimed go back now; a row left ``sending`` (cancelled
            # mid-SMTP) is the reaper's, which reports it ``unknown``.
            rest = [item.id for item in upcoming]
            if rest:
                async with self.pool.acquire() as other:
                    delay = s.mail_retry_seconds if self.progress.smtp_down else 0.0
                    await queue.release(other, rest, self.owner, delay=delay)

    async def _step(
        self,
        conn: Connection,
        done: Done | None,
        upcoming: list[Claimed],
        deadline: float | None,
    ) -> tuple[Claimed | None, list[Claimed]]:
        """One transaction: record ``done``'s outcome, then mark the next eligible row of
        ``upcoming`` ``sending``. Returns that row (``None`` when the batch is over, the
        time is up or the lease was lost) and the rows after it."""
        queue, s = self.mail.queue, self.settings
        go_on = self._more(deadline)

        async def record_and_start_next(conn: Connection) -> tuple[str | None, int, int]:
            outcome = await self._record(conn, *done) if done is not None else None
            if go_on and await self.mail.halted(conn):
                return outcome, 0, -1
            skipped = 0
            for i, item in enumerate(upcoming if go_on else ()):
                started = await queue.start(conn, item.id, self.owner, s.mail_lease_seconds)
                if started == "sending":
                    return outcome, skipped, i
                if started == "lost":
                    log.warning("lease on %s %d lost; leaving the batch", queue.table, item.id)
                    return outcome, skipped, -1
                skipped += 1
            return outcome, skipped, -1

        outcome, skipped, index = await run_write_on(conn, record_and_start_next)
        if outcome is not None:
            setattr(self.progress, outcome, getattr(self.progress, outcome) + 1)
            count_mails(queue.table, outcome)
        count_mails(queue.table, "skipped", skipped)
        self.progress.skipped += skipped
        self._report()
        if index < 0:
            return None, upcoming[skipped:] if go_on else upcoming
        return upcoming[index], upcoming[index + 1 :]

    async def _record(
        self, conn: Connection, item: Claimed, message: Outgoing, attempt: Attempt
    ) -> str:
        """Settle ``item`` by ``attempt``; returns the ``Progress`` field to count."""
        queue, s = self.mail.queue, self.settings
        if attempt.result is Result.SENT:
            await self.mail.delivered(conn, item, message)
            return "sent"
        if attempt.result is Result.BOUNCE:
            await self.mail.refused(conn, item, attempt, permanent=True)
            return "bounced"
        if attempt.result is Result.UNKNOWN:
            await queue.settle(conn, item.id, "unknown", detail=attempt.detail)
            return "unknown"
        if item.attempts + 1 >= s.mail_max_attempts:
            await self.mail.refused(conn, item, attempt, permanent=False)
            return "failed"
        delay = min(MAX_BACKOFF, s.mail_retry_seconds * 2**item.attempts)
        await queue.retry(
            conn, item.id, delay=delay, counted=True, code=attempt.code, detail=attempt.detail
        )
        return "retried"

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)
