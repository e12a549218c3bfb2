"""The event log's promises: append-only, optimistic concurrency, idempotency,
upcasting, and a gap-safe tail."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import ClassVar

import asyncpg
import msgspec
import pytest

from services.core.errors import IdempotencyKeyReusedError, StreamVersionConflictError
from services.core.events import CODEC, BookmarkAdded, Event, EventCodec, VoteCast
from services.core.store import (
    IDEMPOTENCY_KEY_LIFETIME,
    AppendResult,
    Cursor,
    EventStore,
    IdempotentRequest,
    Pool,
)
from tests.conftest import NOW

STORE = EventStore()


async def test_append_then_read_stream_in_order(pool: Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        r = await STORE.append(
            conn, "reader-x", [BookmarkAdded(tool="a"), BookmarkAdded(tool="b")], expected_version=0
        )
    assert [e.stream_version for e in r.recorded] == [1, 2]
    async with pool.acquire() as conn:
        events = await STORE.read_stream(conn, "reader-x")
        assert [e.event for e in events] == [BookmarkAdded(tool="a"), BookmarkAdded(tool="b")]
        assert await STORE.stream_version(conn, "reader-x") == 2


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(pool: Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await STORE.append(conn, "s-1", [BookmarkAdded(tool="a")], expected_version=0)
    with pytest.raises(StreamVersionConflictError) as info:
        async with pool.acquire() as conn, conn.transaction():
            await STORE.append(conn, "s-1", [BookmarkAdded(tool="b")], expected_version=0)
    assert info.value.expected_version == 0
    assert await pool.fetchval("select count(*) from events") == 1


async def test_concurrent_appends_at_one_version_exactly_one_wins(pool: Pool) -> None:
    async def attempt(i: int) -> bool:
        try:
            async with pool.acquire() as conn, conn.transaction():
                await STORE.append(conn, "race", [BookmarkAdded(tool=f"t{i}")], expected_version=0)
            return True
        except StreamVersionConflictError:
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(16)))
    assert results.count(True) == 1
    assert await pool.fetchval("select count(*) from events where stream_id = 'race'") == 1


DAY = IDEMPOTENCY_KEY_LIFETIME


def bookmark_request(
    key: str, tool: str = "a", *, expires_at: datetime | None = NOW + DAY
) -> IdempotentRequest:
    return IdempotentRequest.of(
        key, caller="reader-k", method="PUT", path=f"/api/v1/bookmarks/{tool}", body=b"",
        expires_at=expires_at,
    )  # fmt: skip


async def append_keyed(pool: Pool, tool: str, request: IdempotentRequest) -> AppendResult:
    async with pool.acquire() as conn, conn.transaction():
        version = await STORE.stream_version(conn, "reader-k")
        return await STORE.append(
            conn, "reader-k", [BookmarkAdded(tool=tool)], expected_version=version,
            idempotency=request,
        )  # fmt: skip


async def test_same_idempotency_key_appends_once(pool: Pool) -> None:
    for _ in range(3):
        result = await append_keyed(pool, "a", bookmark_request("key-1"))
    assert result.replayed
    assert result.recorded[0].event == BookmarkAdded(tool="a")
    assert await pool.fetchval("select count(*) from events") == 1


async def test_an_idempotency_key_names_one_request(pool: Pool) -> None:
    await append_keyed(pool, "a", bookmark_request("key-1"))
    other_path = bookmark_request("key-1", tool="b")
    other_body = IdempotentRequest.of(
        "key-1", caller="reader-k", method="PUT", path="/api/v1/bookmarks/a", body=b"{}",
        expires_at=NOW + DAY,
    )  # fmt: skip
    for request in (other_path, other_body):
        with pytest.raises(IdempotencyKeyReusedError, match="PUT /api/v1/bookmarks/a"):
            await append_keyed(pool, "b", request)
    assert await pool.fetchval("select count(*) from events") == 1
    # Another caller's key of the same name is another key.
    other_caller = IdempotentRequest.of(
        "key-1", caller="reader-z", method="PUT", path="/api/v1/bookmarks/b", body=b"",
        expires_at=NOW + DAY,
    )  # fmt: skip
    assert not (await append_keyed(pool, "b", other_caller)).replayed


async def test_expired_keys_are_deleted_and_can_name_a_new_request(pool: Pool) -> None:
    second = timedelta(seconds=1)
    await append_keyed(pool, "a", bookmark_request("old", expires_at=NOW - second))
    await append_keyed(pool, "b", bookmark_request("young", expires_at=NOW + second))
    await append_keyed(pool, "c", bookmark_request("forever", expires_at=None))
    async with pool.acquire() as conn:
        assert await STORE.expire_keys(conn, now=NOW) == 1
        assert await STORE.expire_keys(conn, now=NOW + 1000 * DAY) == 1  # never: "forever"
    again = await append_keyed(pool, "d", bookmark_request("old", tool="d"))
    assert not again.replayed and again.recorded[0].event == BookmarkAdded(tool="d")
    with pytest.raises(IdempotencyKeyReusedError):
        await append_keyed(pool, "e", bookmark_request("forever", tool="e"))


@pytest.mark.parametrize(
    "statement",
    [
        "update events set type = 'Forged'",
        "delete from events",
        "truncate events",
    ],
)
async def test_the_database_refuses_to_change_events(pool: Pool, statement: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await STORE.append(conn, "s", [BookmarkAdded(tool="a")], expected_version=0)
    with pytest.raises(
        asyncpg.exceptions.ProhibitedSQLStatementAttemptedError, match="append-only"
    ):
        await pool.execute(statement)
    assert await pool.fetchval("select type from events") == "BookmarkAdded"


async def test_late_commit_is_not_skipped_by_a_tailing_reader(pool: Pool) -> None:
    """T1 takes the lower position but commits after T2; a reader polling in between
    sees neither yet, then both, in order, exactly once."""
    t1 = await pool.acquire()
    t2 = await pool.acquire()
    reader = await pool.acquire()
    try:
        tx1 = t1.transaction()
        await tx1.start()
        await STORE.append(t1, "reader-one", [BookmarkAdded(tool="first")], expected_version=0)
        tx2 = t2.transaction()
        await tx2.start()
        await STORE.append(t2, "reader-two", [BookmarkAdded(tool="second")], expected_version=0)
        await tx2.commit()

        seen = []
        cursor = Cursor()
        batch = await STORE.read_after(reader, cursor)
        seen += batch
        assert batch == [], "T2 committed but T1, older, is still open: nothing is settled"

        await tx1.commit()
        for _ in range(2):  # reading again after the end never repeats an event
            batch = await STORE.read_after(reader, cursor)
            seen += batch
            cursor = batch[-1].cursor if batch else cursor
        assert [e.event.tool for e in seen] == ["first", "second"]  # type: ignore[attr-defined]
        assert [e.position for e in seen] == sorted(e.position for e in seen)
    finally:
        for c in (t1, t2, reader):
            await pool.release(c)


async def test_tailing_many_concurrent_writers_misses_nothing(pool: Pool) -> None:
    seen: list[int] = []
    done = asyncio.Event()

    async def write(i: int) -> None:
        for j in range(25):
            async with pool.acquire() as conn, conn.transaction():
                await STORE.append(
                    conn, f"w-{i}-{j}", [BookmarkAdded(tool="t")], expected_version=0
                )

    async def tail() -> None:
        cursor = Cursor()
        async with pool.acquire() as conn:
            while True:
                finished = done.is_set()
                batch = await STORE.read_after(conn, cursor, limit=100)
                seen.extend(e.position for e in batch)
                cursor = batch[-1].cursor if batch else cursor
                if finished and not batch:
                    return
                await asyncio.sleep(0)

    reader = asyncio.create_task(tail())
    await asyncio.gather(*(write(i) for i in range(16)))
    done.set()
    await reader
    assert len(seen) == len(set(seen)) == 400


class Rated(Event, frozen=True, kw_only=True):
    """A test event whose shape changed twice."""

    version: ClassVar[int] = 3
    tool: str
    score: int
    scale: int


def test_old_shapes_are_upcast_before_decoding() -> None:
    codec = EventCodec([Rated])
    codec.register_upcaster("Rated", 1, lambda d: {"tool": d["name"], "stars": d["stars"]})
    codec.register_upcaster(
        "Rated", 2, lambda d: {"tool": d["tool"], "score": d["stars"] * 20, "scale": 100}
    )
    assert codec.decode("Rated", 1, b'{"name": "x", "stars": 4}') == Rated(
        tool="x", score=80, scale=100
    )
    assert codec.decode("Rated", 3, b'{"tool": "x", "score": 5, "scale": 10}') == Rated(
        tool="x", score=5, scale=10
    )
    with pytest.raises(ValueError, match="no upcaster"):
        EventCodec([Rated]).decode("Rated", 1, b"{}")


def test_event_payloads_carry_no_email_field() -> None:
    for name, cls in CODEC.types.items():
        fields = {f.name for f in msgspec.structs.fields(cls)}
        assert not fields & {"email", "address", "email_address"}, name


def test_vote_round_trips_through_the_codec() -> None:
    ev = VoteCast(comparison="a-vs-b", tool="a", verdict="ship")
    assert CODEC.decode("VoteCast", 1, CODEC.encode(ev)) == ev


async def test_tail_orders_by_transaction_id_not_its_text(pool: Pool) -> None:
    """Across a decimal digit boundary of the xid ("999" > "1000" as text) no event is
    skipped or reordered: paging one event at a time still returns both."""
    current = int(await pool.fetchval("select pg_current_xact_id()::text"))
    boundary = 10 ** len(str(current))
    # Each plpgsql exception block is a subtransaction; writing in one assigns an xid.
    await pool.execute(
        "create temp table burn (i int);"
        f" do $$ begin for i in 1..{boundary - current - 3} loop"
        " begin insert into burn values (i); exception when others then null; end;"
        " end loop; end $$"
    )
    for tool in ("before", "after"):
        async with pool.acquire() as conn, conn.transaction():
            await STORE.append(
                conn, f"reader-{tool}", [BookmarkAdded(tool=tool)], expected_version=0
            )
    async with pool.acquire() as conn:
        tx_ids = [int(r[0]) for r in await conn.fetch("select tx_id::text from events")]
        pages = [page async for page in STORE.tail(conn, Cursor(), page=1)]
    assert min(tx_ids) < boundary <= max(tx_ids)
    assert [p[0].event for p in pages] == [
        BookmarkAdded(tool="before"),
        BookmarkAdded(tool="after"),
    ]
