"""The digest delivery ledger: per (week, subscriber), what the log says was delivered.

Built from ``DigestDelivered`` / ``DigestBounced`` only, so replay rebuilds it. The send
queue (leases, retries, ``unknown``) lives in ``digest_recipients``, which is work
state rather than history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..events import DigestBounced, DigestDelivered
from ..store import Connection, Recorded
from ..streams import SUBSCRIBER
from .base import TableSet, upsert_sql

_COLS = (
    "week",
    "subscriber_id",
    "status",
    "deliveries",
    "bounces",
    "message_id",
    "code",
    "updated_at",
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

    async def load(
        self, conn: Connection, into: TableSet, events: Sequence[Recorded]
    ) -> DeliveriesState:
        keys = sorted({_key(e) for e in events})
        state = DeliveriesState()
        # The ``= any`` conditions keep the primary key usable in the generic plan
        # PostgreSQL caches while the table is still empty at the start of a send;
        # without them that plan scans the whole week's ledger for every delivery.
        for r in await conn.fetch(
            f"select week, subscriber_id::text, {', '.join(_COLS[2:])}"
            f" from {into.quoted('digest_deliveries')}"
            " where week = any($1::text[]) and subscriber_id = any($2::uuid[])"
            " and (week, subscriber_id) in (select * from unnest($1::text[], $2::uuid[]))",
            [k[0] for k in keys],
            [k[1] for k in keys],
        ):
            state.rows[(r[0], r[1])] = DeliveryRow(*r)
        return state

    def apply(self, state: DeliveriesState, rec: Recorded) -> None:
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

    async def flush(self, conn: Connection, into: TableSet, state: DeliveriesState) -> None:
        rows = [state.rows[k].values() for k in sorted(state.dirty)]
        if rows:
            key = ["week", "subscriber_id"]
            await conn.executemany(upsert_sql(into.quoted("digest_deliveries"), _COLS, key), rows)
        state.dirty.clear()

    async def dump(self, conn: Connection, into: TableSet, state: DeliveriesState) -> None:
        await conn.copy_records_to_table(
            into.bare("digest_deliveries"),
            records=[r.values() for r in state.rows.values()],
            columns=_COLS,
        )
        state.dirty.clear()


def _key(rec: Recorded) -> Key:
    ev = rec.event
    assert isinstance(ev, DigestDelivered | DigestBounced)
    return ev.week, SUBSCRIBER.key(rec.stream_id)


DELIVERIES = DeliveriesProjection()
