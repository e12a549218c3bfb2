"""What the server acknowledged, and whether the event log holds exactly that.

Every request a load client sends carries an ``X-Request-ID`` of its own, which the API
keeps in each event's metadata. A client writes down every answer it got: an
acknowledged action must be in the log exactly once, as the event it asked for; a
retry with the same ``Idempotency-Key`` must add nothing; and no event may name a
request that was never sent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from services.core.store import Connection


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """An action the server said it did: the one event it must have appended."""

    request_id: str
    event_type: str | None  # None: a retry, which must append nothing
    stream: str | None = None  # the reader's stream; None for a subscription
    data: tuple[tuple[str, str], ...] = ()  # what the event's payload must say


@dataclass
class Ledger:
    """One client's record: every request it sent, every answer it was given."""

    sent: set[str] = field(default_factory=set)
    acknowledged: list[Acknowledged] = field(default_factory=list)


@dataclass(frozen=True)
class LedgerCheck:
    """The log held against every client's ledger."""

    acknowledged: int
    lost: list[str]
    duplicated: list[str]
    mismatched: list[str]
    phantom: list[str]
    unanswered_but_written: int

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.mismatched or self.phantom)


def _matches(ack: Acknowledged, stream: str, type_: str, data: dict[str, object]) -> bool:
    if type_ != ack.event_type:
        return False
    if ack.stream is None:
        return stream.startswith("subscriber-")
    return stream == ack.stream and all(data.get(k) == v for k, v in ack.data)


async def check(conn: Connection, prefix: str, ledgers: list[Ledger]) -> LedgerCheck:
    """Hold the events whose request id starts with ``prefix`` against ``ledgers``."""
    found: defaultdict[str, list[tuple[str, str, dict[str, object]]]] = defaultdict(list)
    for rid, stream, type_, data in await conn.fetch(
        "select metadata ->> 'request_id', stream_id, type, data::text from events"
        " where metadata ->> 'request_id' like $1 || '%'",
        prefix,
    ):
        found[rid].append((stream, type_, json.loads(data)))
    sent = set().union(*(ledger.sent for ledger in ledgers))
    acks = [a for ledger in ledgers for a in ledger.acknowledged]
    lost, duplicated, mismatched = [], [], []
    for ack in acks:
        events = found.get(ack.request_id, [])
        expected = 0 if ack.event_type is None else 1
        if len(events) < expected:
            lost.append(ack.request_id)
        elif len(events) > expected:
            duplicated.append(ack.request_id)
        elif events and not _matches(ack, *events[0]):
            mismatched.append(f"{ack.request_id}: {events[0][1]} on {events[0][0]}")
    answered = {a.request_id for a in acks}
    return LedgerCheck(
        acknowledged=len(acks),
        lost=lost,
        duplicated=duplicated,
        mismatched=mismatched,
        phantom=sorted(set(found) - sent),
        unanswered_but_written=len((set(found) & sent) - answered),
    )
