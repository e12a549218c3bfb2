"""Subscriber status read model: pending, confirmed, unsubscribed or erased."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ..events import (
    DigestBounced,
    SubscriberErased,
    SubscriptionConfirmed,
    SubscriptionRequested,
    Unsubscribed,
)
from ..store import Connection, Recorded
from .base import Tables

_COLS = (
    "subscriber_id, status, requested_at, confirmed_at, unsubscribed_at,"
    " unsubscribe_reason, bounces"
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


@dataclass(slots=True)
class SubscribersState:
    rows: dict[str, SubscriberRow] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)


def subscriber_of(stream_id: str) -> str:
    return stream_id.removeprefix("subscriber-")


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

    async def load(
        self, conn: Connection, t: Tables, events: Sequence[Recorded]
    ) -> SubscribersState:
        ids = sorted({subscriber_of(e.stream_id) for e in events})
        state = SubscribersState()
        for r in await conn.fetch(
            f"select subscriber_id::text, status, requested_at, confirmed_at, unsubscribed_at,"
            f" unsubscribe_reason, bounces from {t('subscribers')}"
            " where subscriber_id = any($1::uuid[])",
            ids,
        ):
            state.rows[r[0]] = SubscriberRow(*r)
        return state

    def apply(self, state: SubscribersState, rec: Recorded) -> None:
        sid = subscriber_of(rec.stream_id)
        row = state.rows.get(sid)
        ev, at = rec.event, rec.recorded_at
        if isinstance(ev, SubscriptionRequested):
            if row is None or row.status == "unsubscribed":
                state.rows[sid] = SubscriberRow(sid, "pending", at)
            elif row.status == "pending":
                row.requested_at = at
            else:
                return
        elif row is None or row.status == "erased":
            return
        elif isinstance(ev, SubscriptionConfirmed):
            if row.status != "pending":
                return
            row.status, row.confirmed_at = "confirmed", at
        elif isinstance(ev, Unsubscribed):
            if row.status not in ("pending", "confirmed"):
                return
            row.status, row.unsubscribed_at, row.unsubscribe_reason = "unsubscribed", at, ev.reason
        elif isinstance(ev, DigestBounced):
            if not ev.permanent:
                return
            row.bounces += 1
        elif isinstance(ev, SubscriberErased):
            row.status = "erased"
        state.dirty.add(sid)

    async def flush(self, conn: Connection, t: Tables, state: SubscribersState) -> None:
        rows = [state.rows[s] for s in sorted(state.dirty)]
        if rows:
            await conn.executemany(
                f"insert into {t('subscribers')} ({_COLS}) values ($1,$2,$3,$4,$5,$6,$7)"
                " on conflict (subscriber_id) do update set status = excluded.status,"
                " requested_at = excluded.requested_at, confirmed_at = excluded.confirmed_at,"
                " unsubscribed_at = excluded.unsubscribed_at,"
                " unsubscribe_reason = excluded.unsubscribe_reason, bounces = excluded.bounces",
                [
                    (
                        r.subscriber_id,
                        r.status,
                        r.requested_at,
                        r.confirmed_at,
                        r.unsubscribed_at,
                        r.unsubscribe_reason,
                        r.bounces,
                    )
                    for r in rows
                ],
            )
        state.dirty.clear()

    async def dump(self, conn: Connection, t: Tables, state: SubscribersState) -> None:
        await conn.copy_records_to_table(
            t.raw("subscribers"),
            records=(
                (
                    r.subscriber_id,
                    r.status,
                    r.requested_at,
                    r.confirmed_at,
                    r.unsubscribed_at,
                    r.unsubscribe_reason,
                    r.bounces,
                )
                for r in state.rows.values()
            ),
            columns=[c.strip() for c in _COLS.split(",")],
        )
        state.dirty.clear()


SUBSCRIBERS = SubscribersProjection()
