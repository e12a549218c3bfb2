"""Sending a queue's due rows over a few SMTP connections, batch by batch.

Each of ``SMTP_CONNECTIONS`` lanes claims ``MAIL_BATCH_SIZE`` rows under a lease, then
for each row: mark it ``sending`` (re-checking the subscriber), run the SMTP
transaction on the lane's reused connection, and record the outcome. No database
transaction is open while SMTP runs.

The ``unknown`` window per lane is one message: from the commit of ``sending`` to the
commit of its outcome (a local SMTP round trip plus one short transaction, about a
millisecond or two here; at most the SMTP timeout). Only a crash, a kill or a
connection lost inside that window leaves a row ``unknown``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Protocol

from services.core.config import Settings
from services.core.mime import Outgoing, mail_domain
from services.core.store import Connection, Pool

from .queue import Claimed, Queue
from .smtp import Attempt, Result, SmtpLink, SmtpUnavailable

log = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0


class Kind(Protocol):
    """What differs between confirmation mails and the digest."""

    queue: Queue

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease: float
    ) -> list[Claimed]: ...

    def compose(self, item: Claimed, now: datetime) -> Outgoing: ...

    async def delivered(self, pool: Pool, item: Claimed, message: Outgoing) -> None: ...

    async def refused(
        self, pool: Pool, item: Claimed, attempt: Attempt, *, permanent: bool
    ) -> None: ...


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
    """Sends what ``kind`` has due, until nothing is due or the time budget is spent."""

    pool: Pool
    settings: Settings
    kind: Kind
    owner: str = field(default_factory=lambda: f"sender-{uuid.uuid4().hex[:12]}")
    on_progress: Callable[[Progress], None] | None = None

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
        return in_time and self.progress.smtp_down is None

    async def _lane(self, link: SmtpLink, deadline: float | None) -> None:
        s = self.settings
        while self._more(deadline):
            async with self.pool.acquire() as conn, conn.transaction():
                batch = await self.kind.claim(
                    conn, self.owner, s.mail_batch_size, s.mail_lease_seconds
                )
            if not batch:
                return
            await self._send_batch(link, batch, deadline)

    async def _send_batch(
        self, link: SmtpLink, batch: list[Claimed], deadline: float | None
    ) -> None:
        queue, s = self.kind.queue, self.settings
        unsent = [item.id for item in batch]
        try:
            for item in batch:
                if not self._more(deadline):
                    return
                unsent.remove(item.id)
                async with self.pool.acquire() as conn:
                    started = await queue.start(conn, item.id, self.owner, s.mail_lease_seconds)
                if started == "skipped":
                    self.progress.skipped += 1
                    self._report()
                    continue
                if started == "lost":
                    log.warning("lease on %s %d lost; leaving the batch", queue.table, item.id)
                    return
                message = self.kind.compose(item, datetime.now(UTC))
                try:
                    attempt = await link.send(self.sender, message)
                except SmtpUnavailable as exc:
                    self.progress.smtp_down = str(exc)
                    async with self.pool.acquire() as conn:
                        await queue.retry(
                            conn,
                            item.id,
                            delay=s.mail_retry_seconds,
                            counted=False,
                            code=None,
                            detail=str(exc),
                        )
                    return
                await self._record(item, message, attempt)
                self._report()
        finally:
            if unsent:
                async with self.pool.acquire() as conn:
                    delay = s.mail_retry_seconds if self.progress.smtp_down else 0.0
                    await queue.release(conn, unsent, self.owner, delay=delay)

    async def _record(self, item: Claimed, message: Outgoing, attempt: Attempt) -> None:
        queue, s, p = self.kind.queue, self.settings, self.progress
        if attempt.result is Result.SENT:
            await self.kind.delivered(self.pool, item, message)
            p.sent += 1
        elif attempt.result is Result.BOUNCE:
            await self.kind.refused(self.pool, item, attempt, permanent=True)
            p.bounced += 1
        elif attempt.result is Result.UNKNOWN:
            async with self.pool.acquire() as conn:
                await queue.settle(conn, item.id, "unknown", detail=attempt.detail)
            p.unknown += 1
        elif item.attempts + 1 >= s.mail_max_attempts:
            await self.kind.refused(self.pool, item, attempt, permanent=False)
            p.failed += 1
        else:
            delay = min(MAX_BACKOFF, s.mail_retry_seconds * 2**item.attempts)
            async with self.pool.acquire() as conn:
                await queue.retry(
                    conn,
                    item.id,
                    delay=delay,
                    counted=True,
                    code=attempt.code,
                    detail=attempt.detail,
                )
            p.retried += 1

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress)
