"""Subscribing to the weekly digest: request (double opt-in), confirm, unsubscribe, erase.

The address is stored once in ``subscriber_emails``; every event names only the
subscriber id. Requesting again with the same address reuses its id, and answers the
same whatever the address's status, so the form reveals nothing.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from enum import StrEnum

from email_validator import EmailNotValidError, validate_email

from .errors import InvalidEmailError, UnknownSubscriberError
from .events import (
    DigestBounced,
    DigestDelivered,
    ErasureReason,
    Event,
    SubscriberErased,
    SubscriptionConfirmed,
    SubscriptionRequested,
    Unsubscribed,
    UnsubscribeReason,
)
from .ids import time_ordered_uuid
from .store import AppendResult, Connection, IdempotentRequest, Metadata, Pool
from .streams import SUBSCRIBER
from .writes import append_and_project, append_at_current_version, run_write


class Outcome(StrEnum):
    """What a confirm or unsubscribe did; a repeated click is an answer, not an error."""

    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    UNSUBSCRIBED = "unsubscribed"
    ALREADY_UNSUBSCRIBED = "already_unsubscribed"
    NOT_PENDING = "not_pending"  # confirm after unsubscribing or erasure


def normalise_email(raw: str) -> str:
    """The canonical form of an address, or ``InvalidEmailError`` saying what is wrong."""
    try:
        info = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmailError(str(exc)) from None
    return info.normalized.lower()


async def status_of(conn: Connection, subscriber_id: str) -> str | None:
    status: str | None = await conn.fetchval(
        "select status from subscribers where subscriber_id = $1::uuid", subscriber_id
    )
    return status


async def _append(
    conn: Connection,
    subscriber_id: str,
    event: Event,
    meta: Metadata | None = None,
    idempotency: IdempotentRequest | None = None,
) -> None:
    await append_at_current_version(
        conn, SUBSCRIBER.name(subscriber_id), [event], metadata=meta, idempotency=idempotency
    )


async def request_subscription(
    pool: Pool,
    email: str,
    *,
    idempotency: IdempotentRequest | None = None,
    request_id: str | None = None,
) -> str:
    """Record a subscription request for ``email``; returns the subscriber id.

    Appends ``SubscriptionRequested`` whatever the address's status: the worker,
    which sends confirmation mail from the log, decides what (if anything) to send.
    """
    address = normalise_email(email)
    meta = Metadata(request_id=request_id, idempotency_key=idempotency.key if idempotency else None)

    async def record_request(conn: Connection) -> str:
        sid = await subscriber_id_for(conn, address)
        await _append(conn, sid, SubscriptionRequested(), meta, idempotency)
        return sid

    return await run_write(pool, record_request)


async def subscriber_id_for(conn: Connection, address: str) -> str:
    """The id of a normalised ``address``: its own if it has one, else a new one."""
    sid: str | None = await conn.fetchval(
        "insert into subscriber_emails (subscriber_id, email) values ($1, $2)"
        " on conflict (email) do nothing returning subscriber_id::text",
        str(time_ordered_uuid()),
        address,
    )
    if sid is None:
        sid = await conn.fetchval(
            "select subscriber_id::text from subscriber_emails where email = $1", address
        )
    assert sid is not None
    return sid


async def confirm_subscription(pool: Pool, subscriber_id: str) -> Outcome:
    """Confirm a pending subscription (the POST behind a confirm link)."""

    async def confirm(conn: Connection) -> Outcome:
        status = await status_of(conn, subscriber_id)
        if status is None:
            raise UnknownSubscriberError(subscriber_id)
        if status == "confirmed":
            return Outcome.ALREADY_CONFIRMED
        if status != "pending":
            return Outcome.NOT_PENDING
        await _append(conn, subscriber_id, SubscriptionConfirmed())
        return Outcome.CONFIRMED

    return await run_write(pool, confirm)


async def unsubscribe(pool: Pool, subscriber_id: str, reason: UnsubscribeReason) -> Outcome:
    """Stop all mail to the subscriber at once; repeating it is harmless."""

    async def stop_mail(conn: Connection) -> Outcome:
        status = await status_of(conn, subscriber_id)
        if status is None:
            raise UnknownSubscriberError(subscriber_id)
        if status not in ("pending", "confirmed"):
            return Outcome.ALREADY_UNSUBSCRIBED
        await _append(conn, subscriber_id, Unsubscribed(reason=reason))
        return Outcome.UNSUBSCRIBED

    return await run_write(pool, stop_mail)


async def find_subscriber(pool: Pool, who: str) -> str:
    """The subscriber id for an email address or an id; ``UnknownSubscriberError`` if none."""
    try:
        sid = str(uuid.UUID(who))
    except ValueError:
        sid = await pool.fetchval(
            "select subscriber_id::text from subscriber_emails where email = $1",
            normalise_email(who),
        )
    else:
        sid = await pool.fetchval(
            "select subscriber_id::text from subscribers where subscriber_id = $1::uuid", sid
        )
    if sid is None:
        raise UnknownSubscriberError(who)
    return str(sid)


async def _erase(conn: Connection, subscriber_id: str, reason: ErasureReason) -> None:
    """Delete the address and the SMTP replies that may quote it; record the erasure."""
    await conn.execute(
        "delete from subscriber_emails where subscriber_id = $1::uuid", subscriber_id
    )
    # A reply text ("550 5.1.1 <someone@example.com>: no such user") is personal data too;
    # a suppressed row's detail is why it was suppressed, and stays to show abuse.
    await conn.execute(
        "update confirmation_mails set detail = null"
        " where subscriber_id = $1::uuid and detail is not null and state <> 'suppressed'",
        subscriber_id,
    )
    await conn.execute(
        "update digest_recipients set detail = null"
        " where subscriber_id = $1::uuid and detail is not null",
        subscriber_id,
    )
    await _append(conn, subscriber_id, SubscriberErased(reason=reason))


async def erase_subscriber(pool: Pool, subscriber_id: str) -> None:
    """Delete the subscriber's address (and mail replies quoting it), record the erasure;
    the log stays whole."""

    async def erase(conn: Connection) -> None:
        if await status_of(conn, subscriber_id) is None:
            raise UnknownSubscriberError(subscriber_id)
        await _erase(conn, subscriber_id, "request")

    await run_write(pool, erase)


async def purge_unconfirmed(pool: Pool, *, requested_before: datetime, batch: int = 200) -> int:
    """Erase subscriptions still pending (never confirmed) whose last request is older
    than ``requested_before``, at most ``batch`` of them; returns how many."""
    stale = await pool.fetch(
        "select subscriber_id::text from subscribers"
        " where status = 'pending' and requested_at < $1 order by requested_at limit $2",
        requested_before,
        batch,
    )

    async def purge_one(sid: str, conn: Connection) -> int:
        # Again in the transaction: a confirm or a new request may have come meanwhile.
        still = await conn.fetchval(
            "select 1 from subscribers"
            " where subscriber_id = $1::uuid and status = 'pending' and requested_at < $2",
            sid,
            requested_before,
        )
        if not still:
            return 0
        await _erase(conn, sid, "unconfirmed")
        return 1

    purged = 0
    for (sid,) in stale:
        purged += await run_write(pool, functools.partial(purge_one, sid))
    return purged


BOUNCES_TO_UNSUBSCRIBE = 3
"""Permanent bounces after which a subscriber gets no more mail."""


async def record_digest_outcome(
    conn: Connection,
    subscriber_id: str,
    outcome: DigestDelivered | DigestBounced,
    *,
    expected_version: int,
    idempotency: IdempotentRequest | None = None,
    metadata: Metadata | None = None,
) -> AppendResult:
    """Append what became of a digest mail to the subscriber's stream, in the caller's
    transaction; the ``BOUNCES_TO_UNSUBSCRIBE``-th permanent bounce unsubscribes too."""
    events: list[Event] = [outcome]
    if isinstance(outcome, DigestBounced) and outcome.permanent:
        row = await conn.fetchrow(
            "select status, bounces from subscribers where subscriber_id = $1::uuid",
            subscriber_id,
        )
        if row and row[0] in ("pending", "confirmed") and row[1] + 1 >= BOUNCES_TO_UNSUBSCRIBE:
            events.append(Unsubscribed(reason="bounce"))
    return await append_and_project(
        conn,
        SUBSCRIBER.name(subscriber_id),
        events,
        expected_version=expected_version,
        idempotency=idempotency,
        metadata=metadata,
    )
