"""Where the system stands, read from PostgreSQL: for `verdicts status` and the gauges
of ``/metrics``.

The projections are inline: each is written in the transaction that appends its
events, so none has a position of its own to fall behind. Lag shows in three other
places, and this is what "lag" means here:

- ``counter_deltas``: vote and bookmark deltas not yet folded into ``counters`` by
  the compactor (counts stay exact either way: a count sums both tables);
- the confirmation outbox: the events its cursor has not passed yet, and how many of
  them are subscription requests still waiting for their confirmation mail row;
- unsettled events: rows a tailing reader cannot see yet, because a transaction
  older than theirs is still open (``oldest_open_writer_seconds`` says how long).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from . import digest_issues
from .digest_issues import DigestStatus
from .store import Connection
from .weeks import IsoWeek
from .writes import INLINE_PROJECTIONS

OUTBOX = "confirmation-outbox"
"""The confirmation outbox's cursor in ``outbox_cursors`` (see worker/confirmations.py)."""

OLDEST_OPEN_WRITER = (
    "select extract(epoch from now() - min(xact_start))::float8 from pg_stat_activity"
    " where backend_xid is not null and datname = current_database()"
)
"""Seconds since the oldest transaction that has written (holds an xid) began."""


class ProjectionPosition(msgspec.Struct, frozen=True, kw_only=True):
    """A reader of the log: where it is and how far behind the head."""

    name: str
    position: int
    behind: int
    note: str


class SystemStatus(msgspec.Struct, frozen=True, kw_only=True):
    head_position: int
    """The highest position in the log (rolled-back appends leave gaps below it)."""
    events: int | None
    """Rows in the log, when counted (a full count is for the command, not a scrape)."""
    unsettled_events: int
    oldest_open_writer_seconds: float | None
    projections: tuple[ProjectionPosition, ...]
    counter_deltas: int
    confirmation_mails: dict[str, int]
    """Confirmation mails waiting or in flight, by state."""
    pending_subscribers: int
    """Subscribers who asked and have not confirmed yet."""
    digests: tuple[DigestStatus, ...]
    """The weeks still sending (or paused), and the latest issued, oldest first."""

    @property
    def last_digest(self) -> DigestStatus | None:
        return self.digests[-1] if self.digests else None


async def read_status(conn: Connection, *, count_events: bool = False) -> SystemStatus:
    """Read everything ``SystemStatus`` holds, in a few cheap statements."""
    row = await conn.fetchrow(
        "select coalesce((select max(position) from events), 0),"
        " (select count(*) from events"
        "   where tx_id >= pg_snapshot_xmin(pg_current_snapshot()))::int,"
        f" ({OLDEST_OPEN_WRITER}),"
        " (select count(*) from counter_deltas)::int,"
        " (select count(*) from subscribers where status = 'pending')::int"
    )
    assert row is not None  # a select of scalars always returns its row
    head, unsettled, oldest, deltas, pending = row
    events = await conn.fetchval("select count(*) from events") if count_events else None
    outbox = await _outbox(conn)
    inline = tuple(
        ProjectionPosition(
            name=p.name,
            position=head,
            behind=0,
            note=f"inline; {deltas} counter delta(s) not yet compacted"
            if p.name == "community"
            else "inline: written with the events",
        )
        for p in INLINE_PROJECTIONS
    )
    mails = {
        r[0]: r[1]
        for r in await conn.fetch(
            "select state, count(*)::int from confirmation_mails"
            " where state in ('pending', 'claimed', 'sending') group by state"
        )
    }
    return SystemStatus(
        head_position=head,
        events=events,
        unsettled_events=unsettled,
        oldest_open_writer_seconds=oldest,
        projections=(*inline, outbox),
        counter_deltas=deltas,
        confirmation_mails=mails,
        pending_subscribers=pending,
        digests=await _digests(conn),
    )


async def _outbox(conn: Connection) -> ProjectionPosition:
    cursor = await conn.fetchrow(
        "select tx_id::text, position from outbox_cursors where name = $1", OUTBOX
    )
    tx_id, position = (cursor[0], cursor[1]) if cursor else ("0", 0)
    row = await conn.fetchrow(
        "select count(*)::int, count(*) filter (where type = 'SubscriptionRequested')::int"
        " from events where (tx_id, position) > ($1::text::xid8, $2)",
        tx_id,
        position,
    )
    assert row is not None  # an aggregate always returns its row
    return ProjectionPosition(
        name=OUTBOX,
        position=position,
        behind=row[0],
        note=f"tails the log: {row[1]} subscription request(s) not yet filed for mail",
    )


async def _digests(conn: Connection) -> tuple[DigestStatus, ...]:
    weeks = await conn.fetch(
        "select week from digest_issues where completed_at is null"
        " or week = (select week from digest_issues order by issued_at desc limit 1)"
        " order by issued_at"
    )
    return tuple([await digest_issues.status(conn, IsoWeek.parse(r[0])) for r in weeks])


class StatusCollector:
    """``SystemStatus`` as Prometheus gauges (``None``: the database did not answer)."""

    def __init__(self, status: SystemStatus | None) -> None:
        self.status = status

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("verdicts_database_up", "1 if PostgreSQL answered this scrape.")
        up.add_metric([], 0 if self.status is None else 1)
        yield up
        if self.status is not None:
            yield from _gauges(self.status)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _gauges(s: SystemStatus) -> Iterator[Metric]:
    yield _gauge(
        "verdicts_log_head_position", "Highest position in the event log.", s.head_position
    )
    yield _gauge(
        "verdicts_log_unsettled_events",
        "Events tailing readers cannot see yet: an older transaction is still open.",
        s.unsettled_events,
    )
    yield _gauge(
        "verdicts_oldest_open_writer_seconds",
        "Age of the oldest open writing transaction (0: none).",
        s.oldest_open_writer_seconds or 0.0,
    )
    lag = GaugeMetricFamily(
        "verdicts_projection_lag_events",
        "Events a reader of the log has not applied yet (inline projections: 0).",
        labels=["projection"],
    )
    for p in s.projections:
        lag.add_metric([p.name], p.behind)
    yield lag
    yield _gauge(
        "verdicts_counter_deltas_pending",
        "Vote and bookmark deltas not yet folded into counters.",
        s.counter_deltas,
    )
    mails = GaugeMetricFamily(
        "verdicts_confirmation_mails", "Confirmation mails waiting or in flight.", labels=["state"]
    )
    for state in ("pending", "claimed", "sending"):
        mails.add_metric([state], s.confirmation_mails.get(state, 0))
    yield mails
    yield _gauge(
        "verdicts_subscribers_pending", "Subscribers not confirmed yet.", s.pending_subscribers
    )
    yield from _digest_gauges(s.digests)


def _digest_gauges(digests: Iterable[DigestStatus]) -> Iterator[Metric]:
    recipients = GaugeMetricFamily(
        "verdicts_digest_recipients",
        "Digest recipients by send state, for weeks still open and the latest issued.",
        labels=["week", "state"],
    )
    paused = GaugeMetricFamily(
        "verdicts_digest_paused", "1 while an operator holds the week's send.", labels=["week"]
    )
    for d in digests:
        for state, n in sorted(d.states.items()):
            recipients.add_metric([d.week, state], n)
        paused.add_metric([d.week], 1 if d.paused_at is not None else 0)
    yield recipients
    yield paused
