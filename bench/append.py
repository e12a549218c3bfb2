"""Scenario 1 — append one vote event with its inline projections, no HTTP.

Ours: the group committer (``services/core/group_commit.py``) that reader actions append
through: concurrent appends share one transaction (write gate, one INSERT for all,
inline projections over all, one commit). Also shown: ``writes.run_write`` +
``writes.append_and_project``, a transaction per append (what keyed and operator writes use).
Baselines at the same concurrency, on the same server:
(a) a bare asyncpg INSERT of the same row into a plain table, one per transaction, the
database's own limit; (b) the ``eventsourcing`` library's PostgreSQL application
recorder (psycopg 3, its own table, its default mode that keeps notification order by
locking the table), the Python peer.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.core.config import Settings
from services.core.db import create_pool
from services.core.events import CODEC, VoteCast
from services.core.group_commit import group_committer
from services.core.reader_actions import cast_vote
from services.core.store import Connection, Pool
from services.core.writes import append_and_project, run_write

from .catalog import vote_targets
from .env import Bench, socket_dir
from .load import run_tasks, run_threads
from .report import Row, median, rate, ratio

POOL = Settings().db_pool_size
"""Our connections: the production pool size, whatever the number of callers (fewer
backends competing for two cores beat one backend per caller: 1,390 vs 810 appends/s at
16 callers, 2,180 vs 940 at 64). The baselines get one connection per writer."""

_PLAIN = (
    "create table plain_events (id bigint generated always as identity primary key,"
    " stream_id text not null, stream_version integer not null, type text not null,"
    " schema_version smallint not null, data jsonb not null,"
    " metadata jsonb not null default '{}', recorded_at timestamptz not null default now())"
)
_PLAIN_INSERT = (
    "insert into plain_events (stream_id, stream_version, type, schema_version, data)"
    " values ($1, $2, $3, $4, $5::jsonb)"
)


@dataclass
class VoteStreams:
    """Readers' streams, a disjoint set per writer so writers never conflict.

    Each reader's next vote moves to the next (comparison, tool) and flips its verdict
    after a full round, so every append is a real change for the projections.
    """

    writers: int
    per_writer: int = 64
    readers: list[list[str]] = field(init=False)
    versions: dict[str, int] = field(default_factory=dict)
    _turn: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.readers = [
            [str(uuid.uuid4()) for _ in range(self.per_writer)] for _ in range(self.writers)
        ]
        self._turn = [0] * self.writers

    def next(self, w: int) -> tuple[str, int, VoteCast]:
        """(reader id, its stream version, the vote to append) for writer ``w``."""
        turn = self._turn[w]
        self._turn[w] += 1
        reader = self.readers[w][turn % self.per_writer]
        version = self.versions.get(reader, 0)
        self.versions[reader] = version + 1
        targets = vote_targets()
        n = version % (2 * len(targets))
        comparison, tool = targets[n % len(targets)]
        return (
            reader,
            version,
            VoteCast(
                comparison=comparison, tool=tool, verdict="ship" if n < len(targets) else "skip"
            ),
        )


async def ours(pool: Pool, writers: int, total: int) -> float:
    """Appends per second through the pool's group group_committer (what reader actions use)."""
    streams = VoteStreams(writers)
    group = group_committer(pool)

    async def op(w: int) -> None:
        reader, version, event = streams.next(w)
        await group.append(f"reader-{reader}", [event], expected_version=version)

    return await run_tasks(writers, total, op)


async def one_per_transaction(pool: Pool, writers: int, total: int) -> float:
    """Appends per second through ``run_write`` + ``append_and_project``: a transaction each."""
    streams = VoteStreams(writers)

    async def op(w: int) -> None:
        reader, version, event = streams.next(w)

        async def append_one(conn: Connection) -> None:
            await append_and_project(conn, f"reader-{reader}", [event], expected_version=version)

        await run_write(pool, append_one)

    return await run_tasks(writers, total, op)


async def domain_votes(pool: Pool, writers: int, total: int) -> float:
    """``readers.cast_vote`` per second: checks, reads, append and the reader's state."""
    streams = VoteStreams(writers)

    async def op(w: int) -> None:
        reader, _, event = streams.next(w)
        await cast_vote(pool, reader, event.comparison, event.tool, event.verdict)

    return await run_tasks(writers, total, op)


async def bare_insert(pool: Pool, writers: int, total: int) -> float:
    """Bare INSERTs of the same rows per second, one per transaction."""
    await pool.execute(_PLAIN)
    streams = VoteStreams(writers)

    async def op(w: int) -> None:
        reader, version, event = streams.next(w)
        await pool.execute(
            _PLAIN_INSERT, f"reader-{reader}", version + 1, "VoteCast", 1, CODEC.encode(event)
        )

    return await run_tasks(writers, total, op)


def eventsourcing_recorder(dsn: str, writers: int, total: int) -> float:
    """The eventsourcing library's PostgreSQL recorder, one event per call, in threads."""
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

    datastore = PostgresDatastore(
        dbname=urlsplit(dsn).path.lstrip("/"),
        host=socket_dir(dsn),
        port=urlsplit(dsn).port or 5432,
        user="postgres",
        password="",
        pool_size=writers,
    )
    try:
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        streams = VoteStreams(writers)

        def op(w: int) -> None:
            reader, version, event = streams.next(w)
            stored = StoredEvent(
                originator_id=uuid.UUID(reader),
                originator_version=version + 1,
                topic="VoteCast",
                state=CODEC.encode(event).encode(),
            )
            recorder.insert_events([stored])

        return run_threads(writers, total, op)
    finally:
        datastore.close()


@dataclass
class Figures:
    ours: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    peer: list[float] = field(default_factory=list)


async def measure(bench: Bench, writers: int, total: int, peer_total: int, reps: int) -> Figures:
    """Median-ready figures; the three contenders alternate within each repetition."""
    figures = Figures()
    for _ in range(reps):
        async with bench.database("bare") as dsn:
            pool = await create_pool(dsn, size=writers)
            try:
                figures.bare.append(await bare_insert(pool, writers, total))
            finally:
                await pool.close()
        async with bench.database("append") as dsn:
            pool = await create_pool(dsn, size=POOL)
            try:
                figures.ours.append(await ours(pool, writers, total))
            finally:
                await pool.close()
        async with bench.database("peer") as dsn:
            figures.peer.append(
                await asyncio.to_thread(eventsourcing_recorder, dsn, writers, peer_total)
            )
    return figures


BARE_TARGETS = {1: 0.50, 16: 0.80}
"""Ours against a bare INSERT, by writers (issue 12's bar)."""
PEER_TARGETS = {1: 1.00, 16: 2.00, 64: 2.00}
"""Ours against the eventsourcing library: ahead of it everywhere, well ahead in groups."""


def _target_row(name: str, ours: float, base: str, ratio_: float, target: float | None) -> Row:
    return Row(
        name,
        rate(ours),
        base,
        ratio(ratio_),
        f"≥ {target:.2f}x" if target is not None else "—",
        ratio_ >= target if target is not None else None,
    )


async def run(
    bench: Bench, *, quick: bool, concurrency: Sequence[int] = (1, 4, 16, 64)
) -> list[Row]:
    total, peer_total, reps = (300, 150, 1) if quick else (20_000, 10_000, 3)
    rows: list[Row] = []
    for writers in concurrency:
        f = await measure(bench, writers, total, peer_total, reps)
        o, a, b = median(f.ours), median(f.bare), median(f.peer)
        name = f"1 append · {writers} writers"
        rows.append(
            _target_row(
                f"{name} vs bare INSERT",
                o,
                f"bare INSERT {rate(a)}",
                o / a,
                BARE_TARGETS.get(writers),
            )
        )
        rows.append(
            _target_row(
                f"{name} vs eventsourcing",
                o,
                f"eventsourcing {rate(b)}",
                o / b,
                PEER_TARGETS.get(writers),
            )
        )
    async with bench.database("unit") as dsn:
        pool = await create_pool(dsn, size=POOL)
        try:
            u = await one_per_transaction(pool, 16, total)
        finally:
            await pool.close()
    rows.append(Row("1 append, a transaction each (run_write) · 16 writers", rate(u)))
    async with bench.database("domain") as dsn:
        pool = await create_pool(dsn, size=POOL)
        try:
            d = await domain_votes(pool, 16, total)
        finally:
            await pool.close()
    rows.append(Row("1 cast_vote (read, decide, group append) · 16 writers", rate(d)))
    return rows
