"""The ledger check itself: it finds a lost, a duplicated, a mismatched and a phantom
event, and a retry that appended."""

from __future__ import annotations

import uuid

from services.core.events import BookmarkAdded, Event, VoteCast
from services.core.store import Connection, Metadata, Pool
from services.core.streams import READER
from services.core.writes import STORE, run_write

from .ledger import Acknowledged, Ledger, check

READER_ID = str(uuid.uuid4())
STREAM = READER.name(READER_ID)
VOTE = VoteCast(comparison="a-vs-b", tool="a", verdict="ship")
VOTE_DATA = (("comparison", "a-vs-b"), ("tool", "a"), ("verdict", "ship"))


async def append(pool: Pool, request_id: str, event: Event) -> None:
    async def write(conn: Connection) -> None:
        version = await STORE.stream_version(conn, STREAM)
        meta = Metadata(request_id=request_id)
        await STORE.append(conn, STREAM, [event], expected_version=version, metadata=meta)

    await run_write(pool, write)


async def test_the_ledger_check_finds_every_kind_of_wrong(pool: Pool) -> None:
    await append(pool, "t-1", VOTE)  # as acknowledged
    await append(pool, "t-2", VOTE)  # duplicated
    await append(pool, "t-2", VOTE)
    await append(pool, "t-3", BookmarkAdded(tool="a"))  # not the vote it acknowledged
    await append(pool, "t-5", VOTE)  # a retry that appended
    await append(pool, "t-6", VOTE)  # sent, never answered: allowed
    await append(pool, "t-9", VOTE)  # never sent
    ledger = Ledger(sent={f"t-{i}" for i in range(1, 7)})
    ledger.acknowledged = [
        Acknowledged(f"t-{i}", "VoteCast", STREAM, VOTE_DATA) for i in (1, 2, 3, 4)
    ] + [Acknowledged("t-5", None)]
    async with pool.acquire() as conn:
        found = await check(conn, "t-", [ledger])
    assert found.lost == ["t-4"]
    assert found.duplicated == ["t-2", "t-5"]
    assert found.mismatched == [f"t-3: BookmarkAdded on {STREAM}"]
    assert found.phantom == ["t-9"]
    assert found.unanswered_but_written == 1
    assert not found.ok
