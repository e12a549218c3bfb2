"""Bounces a relay reports after it accepted a digest (a DSN), recorded the way a 5xx
at SMTP time is: ``DigestBounced`` on the subscriber's stream, through
``subscriptions.record_digest_outcome``, so the third permanent bounce unsubscribes.

The digest's ``Message-ID`` (``<digest-WEEK-SUBSCRIBER@domain>``, on our sending
domain) names the week and the subscriber; a message id that is not ours, or names no
recipient of that week, is ignored. A permanent failure (5.x.x) counts toward the
rule; a relay that gave up on a transient one (``failed``, 4.x.x) is recorded as not
permanent; a ``delayed`` report records nothing (the relay is still trying). Each
(week, subscriber) takes one reported bounce: the same DSN fed twice appends nothing
the second time (an idempotency key on the subscriber's stream). The delivery
ledger keeps such a message ``delivered`` (the relay did take it) and counts the
bounce in its ``bounces`` and ``code``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .dsn import DeliveryReport
from .events import DigestBounced, Unsubscribed
from .store import Connection, IdempotentRequest, Metadata, Pool
from .streams import SUBSCRIBER
from .subscriptions import record_digest_outcome
from .writes import STORE, run_write

ACTOR = "dsn"

_DIGEST_ID = re.compile(
    r"^<digest-(\d{4}-W\d{2})-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"@([^>]+)>$"
)


class Reported(StrEnum):
    RECORDED = "recorded"
    ALREADY_RECORDED = "already_recorded"
    DELAYED = "delayed"
    NOT_A_FAILURE = "not_a_failure"
    NOT_OURS = "not_ours"


@dataclass(frozen=True, slots=True)
class BounceResult:
    outcome: Reported
    week: str | None = None
    subscriber_id: str | None = None
    unsubscribed: bool = False


async def record_reported_bounce(
    pool: Pool, report: DeliveryReport, *, domain: str
) -> BounceResult:
    """Record what ``report`` says of a digest sent from ``domain``."""
    if report.action == "delayed":
        return BounceResult(Reported.DELAYED)
    if report.action != "failed":
        return BounceResult(Reported.NOT_A_FAILURE)
    match = _DIGEST_ID.match(report.original_message_id or "")
    if match is None or match[3].lower() != domain.lower():
        return BounceResult(Reported.NOT_OURS)
    week, sid = match[1], match[2]
    bounce = DigestBounced(week=week, code=report.reply_code, permanent=report.permanent)

    async def record(conn: Connection) -> BounceResult:
        sent = await conn.fetchval(
            "select 1 from digest_recipients where week = $1 and subscriber_id = $2::uuid",
            week,
            sid,
        )
        if sent is None:
            return BounceResult(Reported.NOT_OURS, week)
        key = IdempotentRequest.of(
            f"dsn-{week}",
            caller=SUBSCRIBER.name(sid),
            method="DSN",
            path=week,
            body=b"",  # whatever the report says: one bounce per (week, subscriber)
            expires_at=None,
        )
        result = await record_digest_outcome(
            conn,
            sid,
            bounce,
            expected_version=await STORE.stream_version(conn, SUBSCRIBER.name(sid)),
            idempotency=key,
            metadata=Metadata(actor=ACTOR, idempotency_key=key.key),
        )
        if result.replayed:
            return BounceResult(Reported.ALREADY_RECORDED, week, sid)
        left = any(isinstance(rec.event, Unsubscribed) for rec in result.recorded)
        return BounceResult(Reported.RECORDED, week, sid, unsubscribed=left)

    return await run_write(pool, record)
