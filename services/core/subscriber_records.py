"""What is held about subscribers, for the operator: the status read model, the
address (until erased) and each subscriber's history from the log."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from .events import CODEC, DigestBounced, DigestDelivered, Event, Unsubscribed
from .store import Connection
from .streams import SUBSCRIBER

STATUSES = ("pending", "confirmed", "unsubscribed", "erased")


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One event of a subscriber's stream, as an operator reads it."""

    position: int
    at: datetime
    event: str
    detail: str
    actor: str | None
    request_id: str | None


class SubscriberRecord(msgspec.Struct, frozen=True, kw_only=True):
    subscriber_id: str
    email: str | None
    """``None`` once erased."""
    status: str
    requested_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    unsubscribe_reason: str | None
    bounces: int
    history: tuple[HistoryEntry, ...] = ()


_RECORDS = (
    "select s.subscriber_id::text, e.email, s.status, s.requested_at, s.confirmed_at,"
    " s.unsubscribed_at, s.unsubscribe_reason, s.bounces"
    " from subscribers s left join subscriber_emails e using (subscriber_id)"
)


async def list_subscribers(conn: Connection, status: str | None = None) -> list[SubscriberRecord]:
    """Every subscriber (of ``status``), oldest request first; without history."""
    rows = await conn.fetch(
        f"{_RECORDS} where $1::text is null or s.status = $1"
        " order by s.requested_at, s.subscriber_id",
        status,
    )
    return [_record(r) for r in rows]


async def subscriber_record(conn: Connection, subscriber_id: str) -> SubscriberRecord:
    """One subscriber with their history (the caller found the id)."""
    row = await conn.fetchrow(f"{_RECORDS} where s.subscriber_id = $1::uuid", subscriber_id)
    assert row is not None  # find_subscriber found it in this projection
    history = await _histories(conn, [subscriber_id])
    return msgspec.structs.replace(_record(row), history=tuple(history.get(subscriber_id, [])))


async def export_subscribers(conn: Connection) -> list[SubscriberRecord]:
    """Everything held about every subscriber, with each one's history from the log."""
    records = await list_subscribers(conn)
    history = await _histories(conn, None)
    return [
        msgspec.structs.replace(r, history=tuple(history.get(r.subscriber_id, []))) for r in records
    ]


def _record(row: asyncpg.Record) -> SubscriberRecord:
    return SubscriberRecord(
        subscriber_id=row[0],
        email=row[1],
        status=row[2],
        requested_at=row[3],
        confirmed_at=row[4],
        unsubscribed_at=row[5],
        unsubscribe_reason=row[6],
        bounces=row[7],
    )


async def _histories(
    conn: Connection, subscriber_ids: list[str] | None
) -> dict[str, list[HistoryEntry]]:
    """The subscriber streams' events (of ``subscriber_ids``, or all), in order."""
    streams = None if subscriber_ids is None else [SUBSCRIBER.name(s) for s in subscriber_ids]
    rows = await conn.fetch(
        "select stream_id, position, recorded_at, type, schema_version, data::text,"
        " metadata ->> 'actor', metadata ->> 'request_id' from events"
        " where ($1::text[] is null and stream_id like 'subscriber-%')"
        "    or stream_id = any($1::text[])"
        " order by position",
        streams,
    )
    out: dict[str, list[HistoryEntry]] = {}
    for stream, position, at, type_name, version, data, actor, request_id in rows:
        entry = HistoryEntry(
            position=position,
            at=at,
            event=type_name,
            detail=_detail(CODEC.decode(type_name, version, data)),
            actor=actor,
            request_id=request_id,
        )
        out.setdefault(SUBSCRIBER.key(stream), []).append(entry)
    return out


def _detail(event: Event) -> str:
    match event:
        case Unsubscribed(reason=reason):
            return f"reason: {reason}"
        case DigestDelivered(week=week):
            return f"digest {week} delivered"
        case DigestBounced(week=week, code=code, permanent=permanent):
            return f"digest {week}: {code}, {'permanent' if permanent else 'temporary'}"
    return ""
