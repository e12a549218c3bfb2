"""Issuing the weekly verdict digest exactly once per week, and where its send stands.

Issuing appends ``DigestIssued`` to ``digest-<week>`` at expected version 0 and, in the
same transaction, renders the issue once (``digest_issues``) and freezes the recipient
set: every subscriber confirmed in that transaction's snapshot (``digest_recipients``).
A second issuer, or a second cron fire, conflicts on the stream and finds it issued.
What an issue says is ``digest_content``'s; sending it is the worker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import msgspec

from .config import Settings
from .digest_content import DigestContent, assemble
from .events import DigestCompleted, DigestIssued
from .mail_render import RenderedMail, render_digest
from .store import Connection, Pool
from .streams import DIGEST
from .weeks import IsoWeek
from .writes import STORE, append_and_project, append_at_current_version, run_write


class IssueOutcome(StrEnum):
    ISSUED = "issued"
    ALREADY_ISSUED = "already_issued"
    NOTHING_NEW = "nothing_new"


@dataclass(frozen=True, slots=True)
class IssueResult:
    week: IsoWeek
    outcome: IssueOutcome
    recipients: int = 0
    comparisons: int = 0


async def issue(pool: Pool, settings: Settings, week: IsoWeek) -> IssueResult:
    """Issue the digest of ``week`` once; a week with nothing new issues nothing."""
    stream = DIGEST.name(str(week))

    async def issue_once(conn: Connection) -> IssueResult:
        if await STORE.stream_version(conn, stream) > 0:
            return await _already(conn, week)
        if not await conn.fetchval(
            "select exists(select 1 from comparisons where withdrawn_at is null"
            " and published_at >= $1 and published_at < $2)",
            week.start,
            week.end,
        ):
            return IssueResult(week, IssueOutcome.NOTHING_NEW)
        content = await assemble(conn, week, settings.public_url)
        recipients = await _record_issue(conn, week, content)
        return IssueResult(week, IssueOutcome.ISSUED, recipients, len(content.comparisons))

    return await run_write(pool, issue_once)


async def _record_issue(conn: Connection, week: IsoWeek, content: DigestContent) -> int:
    """Append ``DigestIssued``, keep the rendered issue and freeze its recipients, in
    the caller's transaction; returns how many recipients there are."""
    issued = DigestIssued(
        week=str(week),
        comparisons=tuple(c.slug for c in content.comparisons),
        tallies=content.issued_tallies(),
    )
    result = await append_and_project(conn, DIGEST.name(str(week)), [issued], expected_version=0)
    rendered = render_digest(content)
    await conn.execute(
        "insert into digest_issues (week, position, subject, html, text)"
        " values ($1, $2, $3, $4, $5)",
        str(week),
        result.recorded[0].position,
        rendered.subject,
        rendered.html,
        rendered.text,
    )
    # The recipient set is frozen here, in the issuing transaction's snapshot.
    frozen = await conn.execute(
        "insert into digest_recipients (week, subscriber_id)"
        " select $1, subscriber_id from subscribers where status = 'confirmed'"
        " order by subscriber_id",
        str(week),
    )
    recipients = int(frozen.rsplit(" ", 1)[1])
    await conn.execute(
        "update digest_issues set recipients = $2 where week = $1", str(week), recipients
    )
    return recipients


async def _already(conn: Connection, week: IsoWeek) -> IssueResult:
    row = await conn.fetchrow(
        "select i.recipients, e.data -> 'comparisons' from digest_issues i"
        " join events e on e.position = i.position where i.week = $1",
        str(week),
    )
    recipients, comparisons = (row[0], len(msgspec.json.decode(row[1]))) if row else (0, 0)
    return IssueResult(week, IssueOutcome.ALREADY_ISSUED, recipients, comparisons)


async def issued_mail(conn: Connection, week: IsoWeek) -> RenderedMail | None:
    """The issue of ``week`` as rendered when it was issued, if it was."""
    row = await conn.fetchrow(
        "select subject, text, html from digest_issues where week = $1", str(week)
    )
    return RenderedMail(subject=row[0], text=row[1], html=row[2]) if row else None


async def preview(conn: Connection, settings: Settings, week: IsoWeek) -> RenderedMail | None:
    """The digest of ``week``: as issued if it was, else as it would be issued now;
    ``None`` when nothing was published that week."""
    if (issued := await issued_mail(conn, week)) is not None:
        return issued
    content = await assemble(conn, week, settings.public_url)
    return render_digest(content) if content.comparisons else None


class DigestStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where a week's send stands: the queue by state, and what the ledger records."""

    week: str
    issued_at: datetime | None
    completed_at: datetime | None
    recipients: int
    states: dict[str, int]
    delivered: int
    duplicates: int
    bounced: int
    paused_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def sent(self) -> int:
        return self.states.get("sent", 0)

    @property
    def pending(self) -> int:
        return sum(self.states.get(s, 0) for s in ("pending", "claimed", "sending"))


async def status(conn: Connection, week: IsoWeek) -> DigestStatus:
    """How many are sent, pending, bounced, unknown ... for ``week``."""
    issue_row = await conn.fetchrow(
        "select issued_at, completed_at, recipients, paused_at, cancelled_at"
        " from digest_issues where week = $1",
        str(week),
    )
    states = {
        r[0]: r[1]
        for r in await conn.fetch(
            "select state, count(*)::int from digest_recipients where week = $1 group by state",
            str(week),
        )
    }
    ledger = await conn.fetchrow(
        "select count(*) filter (where status = 'delivered')::int,"
        " count(*) filter (where deliveries > 1)::int,"
        " count(*) filter (where status = 'bounced')::int"
        " from digest_deliveries where week = $1",
        str(week),
    )
    assert ledger is not None  # an aggregate always returns its row
    return DigestStatus(
        week=str(week),
        issued_at=issue_row[0] if issue_row else None,
        completed_at=issue_row[1] if issue_row else None,
        recipients=issue_row[2] if issue_row else 0,
        states=states,
        delivered=ledger[0],
        duplicates=ledger[1],
        bounced=ledger[2],
        paused_at=issue_row[3] if issue_row else None,
        cancelled_at=issue_row[4] if issue_row else None,
    )


async def complete_if_done(pool: Pool, week: IsoWeek) -> bool:
    """Append ``DigestCompleted`` once nothing of ``week`` is left to send; True if done."""

    async def complete(conn: Connection) -> bool:
        # The issue's row lock orders completers and the operator's pause, resume and
        # cancel: whoever holds it appends at the stream's current version.
        completed: bool | None = await conn.fetchval(
            "select completed_at is not null from digest_issues where week = $1 for update",
            str(week),
        )
        if completed is None:
            return False  # never issued: there is nothing to complete
        return completed or await complete_locked(conn, week)

    return await run_write(pool, complete)


async def complete_locked(conn: Connection, week: IsoWeek) -> bool:
    """``complete_if_done``'s work, for a caller that holds the issue's row lock."""
    counts = await conn.fetchrow(
        "select count(*) filter (where state in ('pending', 'claimed', 'sending'))::int,"
        " count(*) filter (where state = 'sent')::int,"
        " count(*) filter (where state = 'bounced')::int,"
        " count(*) filter (where state = 'cancelled')::int"
        " from digest_recipients where week = $1",
        str(week),
    )
    assert counts is not None  # an aggregate always returns its row
    if counts[0]:
        return False
    done = DigestCompleted(week=str(week), sent=counts[1], bounced=counts[2], cancelled=counts[3])
    await append_at_current_version(conn, DIGEST.name(str(week)), [done])
    await conn.execute("update digest_issues set completed_at = now() where week = $1", str(week))
    return True


async def open_weeks(conn: Connection) -> list[IsoWeek]:
    """Issued weeks not yet completed, oldest first."""
    rows = await conn.fetch(
        "select week from digest_issues where completed_at is null order by issued_at"
    )
    return [IsoWeek.parse(r[0]) for r in rows]
