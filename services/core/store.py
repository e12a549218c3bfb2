"""The event store on PostgreSQL: appends with optimistic concurrency and idempotency,
stream reads, and a gap-safe tailing read of the whole log.

Appends run on a connection the caller holds inside a transaction, so inline
projections commit atomically with the events they follow.

Tailing is gap-safe without a table lock: a reader only returns rows whose writing
transaction is older than every transaction still running
(``tx_id < pg_snapshot_xmin(pg_current_snapshot())``) and pages by a
``(tx_id, position)`` cursor. A transaction that took a lower position but commits
later is therefore never skipped. Its weak spot, a transaction left open holding
readers back, is bounded by ``idle_in_transaction_session_timeout`` (see db.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import msgspec

from .errors import IdempotencyKeyReusedError, StreamVersionConflictError
from .events import CODEC, Event, EventCodec, type_name
from .sql import Query, Write, chained, combined, rows_of

if TYPE_CHECKING:
    Connection: TypeAlias = (
        asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
    )
    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:  # asyncpg's classes are generic only in its stubs
    Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
    Pool = asyncpg.Pool


class Metadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What an event's metadata records about the request that caused it."""

    request_id: str | None = None
    idempotency_key: str | None = None
    actor: str | None = None


IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
"""How long a client's ``Idempotency-Key`` stays bound to its request."""


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A request sent with an idempotency key: the key, whose it is, what was asked and
    until when the key holds. The same key means the same request: the same method,
    path and body."""

    key: str
    caller: str
    """Whose key it is (``reader-<id>``): keys of different callers never meet."""
    method: str
    path: str
    body_sha256: str
    expires_at: datetime | None
    """When ``EventStore.expire_keys`` may delete it; ``None``: never."""

    @classmethod
    def of(
        cls,
        key: str,
        *,
        caller: str,
        method: str,
        path: str,
        body: bytes,
        expires_at: datetime | None,
    ) -> IdempotentRequest:
        digest = hashlib.sha256(body).hexdigest()
        return cls(key, caller, method.upper(), path, digest, expires_at)

    @property
    def stored_key(self) -> str:
        return f"{self.caller}:{self.key}"


@dataclass(frozen=True, slots=True)
class Cursor:
    """A point in the log, in commit-safe order: ``(tx_id, position)``."""

    tx_id: int = 0
    position: int = 0

    def __lt__(self, other: Cursor) -> bool:
        return (self.tx_id, self.position) < (other.tx_id, other.position)


class Recorded(msgspec.Struct, frozen=True):
    """An event as stored, with its place in the log.

    A Struct rather than a frozen dataclass: replay builds a million of them, and a
    Struct is built several times faster.
    """

    position: int
    tx_id: int
    stream_id: str
    stream_version: int
    type: str
    event: Event
    recorded_at: datetime

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.tx_id, self.position)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append wrote, or, for a replayed idempotency key, what the first one did."""

    recorded: tuple[Recorded, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One caller's append, for ``EventStore.append_many``."""

    stream_id: str
    events: Sequence[Event]
    expected_version: int
    metadata: Metadata | None = None


class PartialAppendError(Exception):
    """Part of a multi-event request conflicted: its transaction must not commit."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(f"append to {stream_id} was only partly written")
        self.stream_id = stream_id


_metadata_encoder = msgspec.json.Encoder()

# The text casts carry aliases of their own: an unaliased ``tx_id::text`` would be the
# output column ``tx_id``, and ``order by tx_id`` would then sort by its text (no index,
# and "10" before "9", which skips events across a digit boundary).
_COLUMNS = (
    "position, tx_id::text as tx_text, stream_id, stream_version, type, schema_version, "
    "data::text as data_text, recorded_at"
)


class EventStore:
    """Appends to and reads from the ``events`` table."""

    def __init__(self, *, codec: EventCodec = CODEC) -> None:
        self.codec = codec

    def _decode(self, row: asyncpg.Record | Sequence[Any]) -> Recorded:
        # Positional, in _COLUMNS order: the hot loop of replay.
        return Recorded(
            row[0],
            int(row[1]),
            row[2],
            row[3],
            row[4],
            self.codec.decode(row[4], row[5], row[6]),
            row[7],
        )

    async def stream_version(self, conn: Connection, stream_id: str) -> int:
        """The stream's current version: 0 for a stream with no events."""
        version: int = await conn.fetchval(
            "select coalesce(max(stream_version), 0) from events where stream_id = $1",
            stream_id,
        )
        return version

    async def append(
        self,
        conn: Connection,
        stream_id: str,
        events: Sequence[Event],
        *,
        expected_version: int,
        idempotency: IdempotentRequest | None = None,
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` if it is still at ``expected_version``.

        Must run inside the caller's transaction. Raises ``StreamVersionConflictError``
        when another writer got there first (nothing is written). With ``idempotency``
        whose key was used for the same request, appends nothing and returns the events
        the first one wrote, marked ``replayed``; used for another request, raises
        ``IdempotencyKeyReusedError``. A new key is recorded with the request, even when
        ``events`` is empty: the key is spent on this request either way.
        """
        if idempotency is not None:
            earlier = await self.replay(conn, idempotency)
            if earlier is not None:
                return earlier
        meta = metadata or Metadata(idempotency_key=idempotency.key if idempotency else None)
        recorded = (
            await self._insert(conn, stream_id, events, expected_version, meta) if events else ()
        )
        if idempotency is not None:
            await self._record_key(conn, idempotency, stream_id, recorded, expected_version)
        return AppendResult(recorded)

    async def replay(self, conn: Connection, request: IdempotentRequest) -> AppendResult | None:
        """What an earlier request with ``request``'s key appended (``replayed``), or
        ``None`` if the key is new; ``IdempotencyKeyReusedError`` if that earlier
        request was another one (method, path or body)."""
        row = await conn.fetchrow(
            "select stream_id, method, path, body_sha256, first_position, last_position"
            " from idempotency_keys where key = $1",
            request.stored_key,
        )
        if row is None:
            return None
        stream_id, method, path, body_sha256, first, last = row
        # Keys recorded before requests were (0008_idempotent_requests.sql) replay as then.
        if method is not None and (method, path, body_sha256) != (
            request.method,
            request.path,
            request.body_sha256,
        ):
            raise IdempotencyKeyReusedError(request.key, method, path)
        if first is None:
            return AppendResult((), replayed=True)
        rows = await conn.fetch(
            f"select {_COLUMNS} from events where stream_id = $1"
            " and position between $2 and $3 order by position",
            stream_id,
            first,
            last,
        )
        return AppendResult(tuple(self._decode(r) for r in rows), replayed=True)

    async def expire_keys(self, conn: Connection, *, now: datetime) -> int:
        """Delete the idempotency keys that expired by ``now``; returns how many. Each
        can then name a new request."""
        deleted = await conn.execute("delete from idempotency_keys where expires_at <= $1", now)
        return int(deleted.rsplit(" ", 1)[1])

    async def _insert(
        self,
        conn: Connection,
        stream_id: str,
        events: Sequence[Event],
        expected_version: int,
        metadata: Metadata,
    ) -> tuple[Recorded, ...]:
        rows = await conn.fetch(
            "insert into events (stream_id, stream_version, type, schema_version, data, metadata)"
            " select $1, $2 + n, t, v, d::jsonb, $6::jsonb"
            " from unnest($3::text[], $4::smallint[], $5::text[]) with ordinality as e(t, v, d, n)"
            " on conflict (stream_id, stream_version) do nothing"
            f" returning {_COLUMNS}",
            stream_id,
            expected_version,
            [type_name(e) for e in events],
            [type(e).version for e in events],
            [self.codec.encode(e) for e in events],
            _metadata_encoder.encode(metadata).decode(),
        )
        if len(rows) != len(events):
            # A missing row is a version conflict for this caller alone; the
            # transaction is rolled back by the caller's context manager.
            raise StreamVersionConflictError(stream_id, expected_version)
        return tuple(self._decode(r) for r in rows)

    async def _record_key(
        self,
        conn: Connection,
        request: IdempotentRequest,
        stream_id: str,
        recorded: tuple[Recorded, ...],
        expected_version: int,
    ) -> None:
        inserted = await conn.fetchval(
            "insert into idempotency_keys (key, stream_id, first_position, last_position,"
            " method, path, body_sha256, expires_at) values ($1, $2, $3, $4, $5, $6, $7, $8)"
            " on conflict (key) do nothing returning 1",
            request.stored_key,
            stream_id,
            recorded[0].position if recorded else None,
            recorded[-1].position if recorded else None,
            request.method,
            request.path,
            request.body_sha256,
            request.expires_at,
        )
        if inserted is None:
            # A concurrent request with the same key committed first: retried, this one
            # finds it and replays it (or is refused, if it was another request).
            raise StreamVersionConflictError(stream_id, expected_version)

    async def append_many(
        self, conn: Connection, requests: Sequence[AppendRequest], *, reads: Sequence[Query] = ()
    ) -> tuple[list[AppendResult | None], list[Sequence[Sequence[Any]]]]:
        """Append several requests (to distinct or the same streams) in one statement,
        which also runs the selects ``reads`` (in the snapshot before the insert).

        Must run inside the caller's transaction. Returns what each request wrote (or
        ``None`` when it was a version conflict: nothing of it written) and the rows of
        each read. Raises ``PartialAppendError`` if a multi-event request was only partly
        written: the caller must roll the transaction back and retry them one by one.
        """
        insert = Query(
            "with ins as (insert into events"
            " (stream_id, stream_version, type, schema_version, data, metadata)"
            " select s, v, t, sv, d::jsonb, m::jsonb from unnest($1::text[], $2::int[],"
            " $3::text[], $4::smallint[], $5::text[], $6::text[]) as e(s, v, t, sv, d, m)"
            " on conflict (stream_id, stream_version) do nothing"
            f" returning {_COLUMNS})",
            (
                [r.stream_id for r in requests for _ in r.events],
                [r.expected_version + n for r in requests for n in range(1, len(r.events) + 1)],
                [type_name(e) for r in requests for e in r.events],
                [type(e).version for r in requests for e in r.events],
                [self.codec.encode(e) for r in requests for e in r.events],
                [
                    _metadata_encoder.encode(r.metadata or Metadata()).decode()
                    for r in requests
                    for _ in r.events
                ],
            ),
        )
        statement = combined(insert, [Query("select * from ins"), *reads])
        found = await conn.fetchrow(statement.sql, *statement.args)
        assert found is not None  # a select without from returns its one row
        inserted, *read_rows = rows_of(found)
        return self._settle(requests, inserted), read_rows

    async def append_and_write(
        self,
        conn: Connection,
        requests: Sequence[AppendRequest],
        *,
        recorded_at: datetime,
        writes: Sequence[Write],
    ) -> list[AppendResult | None]:
        """Append one-event requests to distinct streams, and store ``writes`` (their
        rows tagged with the index of the request they belong to) for the requests
        appended, in ONE statement: atomic without a transaction block, committed
        when it returns. Returns what each request wrote (``None``: a conflict)."""
        if any(len(r.events) != 1 for r in requests):
            raise ValueError("append_and_write takes one event per request")
        if len({r.stream_id for r in requests}) != len(requests):
            raise ValueError("append_and_write takes requests to distinct streams")
        events = Query(
            "ins as (insert into events (stream_id, stream_version, type, schema_version,"
            " data, metadata, recorded_at)"
            " select s, v, t, sv, d::jsonb, m::jsonb, $7 from unnest($1::text[], $2::int[],"
            " $3::text[], $4::smallint[], $5::text[], $6::text[]) as e(s, v, t, sv, d, m)"
            " on conflict (stream_id, stream_version) do nothing"
            f" returning {_COLUMNS}),"
            " ok as (select r.request from unnest($1::text[], $2::int[], $8::int[])"
            " as r(s, v, request) join ins on ins.stream_id = r.s and ins.stream_version = r.v)",
            (
                [r.stream_id for r in requests],
                [r.expected_version + 1 for r in requests],
                [type_name(r.events[0]) for r in requests],
                [type(r.events[0]).version for r in requests],
                [self.codec.encode(r.events[0]) for r in requests],
                [_metadata_encoder.encode(r.metadata or Metadata()).decode() for r in requests],
                recorded_at,
                list(range(len(requests))),
            ),
        )
        appended = "r.request in (select request from ok)"
        statement = chained(
            [w.query(appended) for w in writes], head=events, tail="select * from ins"
        )
        return self._settle(requests, await conn.fetch(statement.sql, *statement.args))

    def _settle(
        self, requests: Sequence[AppendRequest], inserted: Sequence[Any]
    ) -> list[AppendResult | None]:
        written = {(row[2], row[3]): self._decode(row) for row in inserted}
        results: list[AppendResult | None] = []
        for r in requests:
            mine = [
                written.pop((r.stream_id, r.expected_version + n), None)
                for n in range(1, len(r.events) + 1)
            ]
            got = [m for m in mine if m is not None]
            if got and len(got) != len(mine):
                raise PartialAppendError(r.stream_id)
            results.append(AppendResult(tuple(got)) if got else None)
        return results

    async def read_stream(self, conn: Connection, stream_id: str) -> list[Recorded]:
        """Every event of one stream, in stream order."""
        rows = await conn.fetch(
            f"select {_COLUMNS} from events where stream_id = $1 order by stream_version",
            stream_id,
        )
        return [self._decode(r) for r in rows]

    async def read_after(
        self, conn: Connection, cursor: Cursor, *, limit: int = 1000, settled_only: bool = True
    ) -> list[Recorded]:
        """Up to ``limit`` events after ``cursor`` in commit-safe order.

        With ``settled_only`` (the default) only events of transactions older than
        every running one are returned, so no late commit is ever skipped. Pass
        ``False`` only while holding a lock that excludes all writers.
        """
        settled = "and tx_id < pg_snapshot_xmin(pg_current_snapshot())" if settled_only else ""
        rows = await conn.fetch(
            f"select {_COLUMNS} from events where (tx_id, position) > ($1::text::xid8, $2) "
            f"{settled} order by tx_id, position limit $3",
            str(cursor.tx_id),
            cursor.position,
            limit,
        )
        return [self._decode(r) for r in rows]

    async def tail(
        self, conn: Connection, cursor: Cursor, *, page: int = 5000
    ) -> AsyncIterator[list[Recorded]]:
        """Pages of settled events after ``cursor`` until the log is drained for now."""
        while True:
            batch = await self.read_after(conn, cursor, limit=page)
            if not batch:
                return
            yield batch
            cursor = batch[-1].cursor
