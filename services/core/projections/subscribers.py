"""Subscriber status read model: pending, confirmed, unsubscribed or erased, and the
count of permanent bounces (what the unsubscribe-after-bounces rule reads)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..events import (
    DigestBounced,
    Event,
    SubscriberErased,
    SubscriptionConfirmed,
    SubscriptionRequested,
    Unsubscribed,
)
from ..sql import Column, Query, Write, upsert
from ..store import Connection
from ..streams import SUBSCRIBER
from .base import Happened, Pending, TableSet

_COLUMNS = (
    Column("subscriber_id", "uuid"),
    Column("status", "text"),
    Column("requested_at", "timestamptz"),
    Column("confirmed_at", "timestamptz"),
    Column("unsubscribed_at", "timestamptz"),
    Column("unsubscribe_reason", "text"),
    Column("bounces", "int"),
)


@dataclass(slots=True)
class SubscriberRow:
    subscriber_id: str
    status: str
    requested_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    unsubscribe_reason: str | None = None
    bounces: int = 0

    def values(self) -> tuple[object, ...]:
        return (
            self.subscriber_id,
            self.status,
            self.requested_at,
            self.confirmed_at,
            self.unsubscribed_at,
            self.unsubscribe_reason,
            self.bounces,
        )

    def change(self, ev: Event, at: datetime) -> bool:
        """Apply ``ev`` (not a request) to this subscriber; False if it changes nothing."""
        if self.status == "erased":
            return False
        if isinstance(ev, SubscriptionConfirmed) and self.status == "pending":
            self.status, self.confirmed_at = "confirmed", at
        elif isinstance(ev, Unsubscribed) and self.status in ("pending", "confirmed"):
            self.status, self.unsubscribed_at, self.unsubscribe_reason = (
                "unsubscribed",
                at,
                ev.reason,
            )
        elif isinstance(ev, DigestBounced) and ev.permanent:
            self.bounces += 1
        elif isinstance(ev, SubscriberErased):
            self.status = "erased"
        else:
            return False
        return True


@dataclass(slots=True)
class SubscribersState:
    rows: dict[str, SubscriberRow] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)


class SubscribersProjection:
    """Maintains ``subscribers``."""

    name = "subscribers"
    tables: tuple[str, ...] = ("subscribers",)
    handles: frozenset[str] = frozenset(
        {
            "SubscriptionRequested",
            "SubscriptionConfirmed",
            "Unsubscribed",
            "DigestBounced",
            "SubscriberErased",
        }
    )

    def empty(self) -> SubscribersState:
        return SubscribersState()

    def loads(self, into: TableSet, events: Sequence[Pending]) -> list[Query]:
        ids = sorted({SUBSCRIBER.key(e.stream_id) for e in events})
        return [
            Query(
                f"select subscriber_id::text, {', '.join(c.name for c in _COLUMNS[1:])}"
                f" from {into.quoted('subscribers')} where subscriber_id = any($1::uuid[])",
                (ids,),
            )
        ]

    def loaded(self, rows: Sequence[Sequence[Sequence[Any]]]) -> SubscribersState:
        state = SubscribersState()
        state.rows = {r[0]: SubscriberRow(*r) for r in rows[0]}
        return state

    def apply(self, state: SubscribersState, rec: Happened) -> None:
        sid = SUBSCRIBER.key(rec.stream_id)
        row = state.rows.get(sid)
        if isinstance(rec.event, SubscriptionRequested):
            # A request starts over after an unsubscribe, refreshes a pending one, and
            # leaves a confirmed (or erased) subscriber as it is.
            if row is None or row.status == "unsubscribed":
                state.rows[sid] = SubscriberRow(sid, "pending", rec.recorded_at)
            elif row.status == "pending":
                row.requested_at = rec.recorded_at
            else:
                return
        elif row is None or not row.change(rec.event, rec.recorded_at):
            return
        state.dirty.add(sid)

    def writes(self, into: TableSet, state: SubscribersState) -> list[Write]:
        rows = [state.rows[s].values() for s in sorted(state.dirty)]
        state.dirty.clear()
        if not rows:
            return []
        return [upsert(into.quoted("subscribers"), _COLUMNS, ["subscriber_id"], rows)]

    async def dump(self, conn: Connection, into: TableSet, state: SubscribersState) -> None:
        await conn.copy_records_to_table(
            into.bare("subscribers"),
            records=[r.values() for r in state.rows.values()],
            columns=[c.name for c in _COLUMNS],
        )
        state.dirty.clear()


SUBSCRIBERS = SubscribersProjection()
