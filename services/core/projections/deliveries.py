"""The digest delivery ledger: per (week, subscriber), what the log says was delivered.

Built from ``DigestDelivered`` / ``DigestBounced`` only, so replay rebuilds it. The send
queue (leases, retries, ``unknown``) lives in ``digest_recipients``, which is work
state rather than history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..events import DigestBounced, DigestDelivered
from ..sql import Column, Query, Write, upsert
from ..store import Connection
from ..streams import SUBSCRIBER
from .base import Happened, Pending, TableSet

_COLUMNS = (
    Column("week", "text"),
    Column("subscriber_id", "uuid"),
    Column("status", "text"),
    Column("deliveries", "int"),
    Column("bounces", "int"),
    Column("message_id", "text"),
    Column("code", "int"),
    Column("updated_at", "timestamptz"),
)

Key = tuple[str, str]  # week, subscriber id


@dataclass(slots=True)
class DeliveryRow:
    week: str
    subscriber_id: str
    status: str
    deliveries: int = 0
    bounces: int = 0
    message_id: str | None = None
    code: int | None = None
    updated_at: datetime | None = None

    def values(self) -> tuple[object, ...]:
        return (
            self.week,
            self.subscriber_id,
            self.status,
            self.deliveries,
            self.bounces,
            self.message_id,
            self.code,
            self.updated_at,
        )


@dataclass(slots=True)
class DeliveriesState:
    rows: dict[Key, DeliveryRow] = field(default_factory=dict)
    dirty: set[Key] = field(default_factory=set)


class DeliveriesProjection:
    """Maintains ``digest_deliveries``."""

    name = "deliveries"
    tables: tuple[str, ...] = ("digest_deliveries",)
    handles: frozenset[str] = frozenset({"DigestDelivered", "DigestBounced"})

    def empty(self) -> DeliveriesState:
        return DeliveriesState()

    def loads(self, into: TableSet, events: Sequence[Pending]) -> list[Query]:
        keys = sorted({_key(e) for e in events})
        # The ``= any`` conditions keep the primary key usable in the generic plan
        # PostgreSQL caches while the table is still empty at the start of a send;
        # without them that plan scans the whole week's ledger for every delivery.
        return [
            Query(
                f"select week, subscriber_id::text, {', '.join(c.name for c in _COLUMNS[2:])}"
                f" from {into.quoted('digest_deliveries')}"
                " where week = any($1::text[]) and subscriber_id = any($2::uuid[])"
                " and (week, subscriber_id) in (select * from unnest($1::text[], $2::uuid[]))",
                ([k[0] for k in keys], [k[1] for k in keys]),
            )
        ]

    def loaded(self, rows: Sequence[Sequence[Sequence[Any]]]) -> DeliveriesState:
        state = DeliveriesState()
        state.rows = {(r[0], r[1]): DeliveryRow(*r) for r in rows[0]}
        return state

    def apply(self, state: DeliveriesState, rec: Happened) -> None:
        ev = rec.event
        if not isinstance(ev, DigestDelivered | DigestBounced):
            return
        key = _key(rec)
        row = state.rows.setdefault(key, DeliveryRow(key[0], key[1], "failed"))
        if isinstance(ev, DigestDelivered):
            row.status, row.message_id = "delivered", ev.message_id
            row.deliveries += 1
        else:
            row.code = ev.code
            row.bounces += ev.permanent
            if row.status != "delivered":
                row.status = "bounced" if ev.permanent else "failed"
        row.updated_at = rec.recorded_at
        state.dirty.add(key)

    def writes(self, into: TableSet, state: DeliveriesState) -> list[Write]:
        rows = [state.rows[k].values() for k in sorted(state.dirty)]
        state.dirty.clear()
        if not rows:
            return []
        key = ["week", "subscriber_id"]
        return [upsert(into.quoted("digest_deliveries"), _COLUMNS, key, rows)]

    async def dump(self, conn: Connection, into: TableSet, state: DeliveriesState) -> None:
        await conn.copy_records_to_table(
            into.bare("digest_deliveries"),
            records=[r.values() for r in state.rows.values()],
            columns=[c.name for c in _COLUMNS],
        )
        state.dirty.clear()


def _key(rec: Pending) -> Key:
    ev = rec.event
    assert isinstance(ev, DigestDelivered | DigestBounced)
    return ev.week, SUBSCRIBER.key(rec.stream_id)


DELIVERIES = DeliveriesProjection()
