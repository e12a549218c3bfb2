"""Generate a realistic event log fast: valid payloads and stream versions, written
with COPY in one transaction per chunk (appending a million events one by one would
take most of an hour here).

The mix, over the bench catalog's ten comparisons and ``readers`` reader streams:
votes cast, changed and withdrawn, bookmarks added and removed, and subscriptions
requested, confirmed and ended. Every event is one the domain code could have
written: a change flips a standing vote, a withdrawal removes one, a bookmark is
removed only when present, a subscriber confirms only when pending. The generator
keeps its state, so calling it again extends the same log.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import click

from services.core.db import connect
from services.core.events import (
    CODEC,
    BookmarkAdded,
    BookmarkRemoved,
    Event,
    SubscriptionConfirmed,
    SubscriptionRequested,
    Unsubscribed,
    VoteCast,
    VoteWithdrawn,
    type_name,
)
from services.core.ids import time_ordered_uuid
from services.core.store import Connection

from .catalog import bench_catalog, vote_targets
from .env import prepare_database

_COLUMNS = ["stream_id", "stream_version", "type", "schema_version", "data", "recorded_at"]

Row = tuple[str, int, str, int, str, datetime]


def _encoded(event: Event) -> tuple[str, int, str]:
    return type_name(event), type(event).version, CODEC.encode(event)


@dataclass
class Reader:
    stream: str
    version: int = 0
    votes: dict[int, int] = field(default_factory=dict)  # target index -> 0 ship / 1 skip
    bookmarks: set[int] = field(default_factory=set)  # tool index


@dataclass
class Subscriber:
    stream: str
    version: int = 0
    status: str = "pending"


@dataclass
class LogGenerator:
    """A seeded, resumable generator of reader and subscriber events."""

    readers: int = 100_000
    seed: int = 20_261_117
    start: datetime = field(default_factory=lambda: datetime(2026, 9, 1, tzinfo=UTC))
    step: timedelta = timedelta(milliseconds=500)
    generated: int = 0
    _rng: random.Random = field(init=False)
    _readers: list[Reader] = field(init=False)
    _subscribers: list[Subscriber] = field(default_factory=list)
    _pending: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        # A reader's id is made on its first visit, right before its first event, and
        # time-ordered as the site makes them (services/core/ids.py).
        self._readers = [Reader("") for _ in range(self.readers)]
        targets = vote_targets()
        tools = [t.slug for t in bench_catalog().tools]
        self._targets = len(targets)
        self._cast = [
            [_encoded(VoteCast(comparison=c, tool=t, verdict=v)) for v in ("ship", "skip")]
            for c, t in targets
        ]
        self._withdraw = [_encoded(VoteWithdrawn(comparison=c, tool=t)) for c, t in targets]
        self._tools = len(tools)
        self._add = [_encoded(BookmarkAdded(tool=t)) for t in tools]
        self._remove = [_encoded(BookmarkRemoved(tool=t)) for t in tools]
        self._requested = _encoded(SubscriptionRequested())
        self._confirmed = _encoded(SubscriptionConfirmed())
        self._unsubscribed = _encoded(Unsubscribed(reason="link"))

    def reader_versions(self) -> dict[str, int]:
        """Each reader stream's current version (what an appender must expect)."""
        return {r.stream: r.version for r in self._readers if r.version}

    def rows(self, count: int) -> Iterator[Row]:
        """The next ``count`` events as COPY rows, in time order."""
        rng = self._rng
        for _ in range(count):
            at = self.start + self.step * self.generated
            self.generated += 1
            roll = rng.random()
            if roll < 0.05:
                yield self._subscription(at)
                continue
            # A few readers are far more active than the rest, as on any site.
            index = int(self.readers * rng.random() ** 2)
            reader = self._readers[index]
            if not reader.version:
                reader.stream = f"reader-{self._new_id(at)}"
            reader.version += 1
            if roll < 0.80:
                kind, version, data = self._vote(reader, roll)
            else:
                tool = rng.randrange(self._tools)
                if tool in reader.bookmarks:
                    reader.bookmarks.discard(tool)
                    kind, version, data = self._remove[tool]
                else:
                    reader.bookmarks.add(tool)
                    kind, version, data = self._add[tool]
            yield reader.stream, reader.version, kind, version, data, at

    def _new_id(self, at: datetime) -> uuid.UUID:
        ms = int(at.timestamp() * 1000)
        return time_ordered_uuid(ms, entropy=self._rng.getrandbits(80))

    def _vote(self, reader: Reader, roll: float) -> tuple[str, int, str]:
        target = self._rng.randrange(self._targets)
        standing = reader.votes.get(target)
        if standing is not None and roll < 0.15:
            del reader.votes[target]
            return self._withdraw[target]
        # A first vote leans ship; voting again changes the vote.
        verdict = (0 if self._rng.random() < 0.62 else 1) if standing is None else 1 - standing
        reader.votes[target] = verdict
        return self._cast[target][verdict]

    def _subscription(self, at: datetime) -> Row:
        rng = self._rng
        if self._pending and rng.random() < 0.6:
            sub = self._subscribers[self._pending.pop(rng.randrange(len(self._pending)))]
            sub.status = "confirmed"
            kind, version, data = self._confirmed
        elif self._subscribers and rng.random() < 0.1:
            sub = self._subscribers[rng.randrange(len(self._subscribers))]
            if sub.status != "confirmed":
                return self._subscription(at)
            sub.status = "unsubscribed"
            kind, version, data = self._unsubscribed
        else:
            sub = Subscriber(f"subscriber-{self._new_id(at)}")
            self._pending.append(len(self._subscribers))
            self._subscribers.append(sub)
            kind, version, data = self._requested
        sub.version += 1
        return sub.stream, sub.version, kind, version, data, at


async def write_events(
    conn: Connection, generator: LogGenerator, count: int, *, chunk: int = 200_000
) -> int:
    """COPY ``count`` generated events into the log, one transaction per chunk."""
    written = 0
    while written < count:
        n = min(chunk, count - written)
        async with conn.transaction():
            await conn.copy_records_to_table("events", records=generator.rows(n), columns=_COLUMNS)
        written += n
    await conn.execute("analyze events")
    return written


@click.command()
@click.option("--events", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--readers", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    required=True,
    help="Target database (default: $DATABASE_URL); migrated and given the bench catalog.",
)
def main(events: int, readers: int, database_url: str) -> None:
    """Append EVENTS generated reader and subscriber events to the log with COPY.

    Projections are not updated: run `verdicts replay` afterwards to build them.
    """

    async def generate() -> None:
        await prepare_database(database_url)
        conn = await connect(database_url)
        try:
            start = time.perf_counter()
            await write_events(conn, LogGenerator(readers=readers), events)
            took = time.perf_counter() - start
        finally:
            await conn.close()
        click.echo(f"wrote {events:,} events in {took:.1f} s ({events / took:,.0f}/s)")

    asyncio.run(generate())


if __name__ == "__main__":
    main()
