"""SIGTERM and SIGINT stop a send gracefully: `verdicts digest send` finishes the
messages in flight, records them, gives claimed rows back and exits 0; the next send
finishes the rest with nobody served twice."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.outages import process_env

from .conftest import WEEK, Sink, assert_once_each, confirmed, outcome

VERDICTS = [sys.executable, "-m", "services.cli"]


async def states(pool: Pool) -> dict[str, int]:
    rows = await pool.fetch("select state, count(*)::int from digest_recipients group by 1")
    return {r[0]: r[1] for r in rows}


async def assert_stopped_cleanly(pool: Pool, sink: Sink) -> None:
    """Only ``sent`` and ``pending`` rows, and ``sent`` is exactly what the sink got."""
    found = await states(pool)
    assert set(found) == {"sent", "pending"}, found
    result = await outcome(pool, sink)
    received = {address for address, (_, got, _) in result.items() if got}
    sent = {address for address, (state, _, _) in result.items() if state == "sent"}
    assert received == sent, (received - sent, sent - received)
    assert all(delivered == 1 for state, _, delivered in result.values() if state == "sent")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_digest_send_stops_between_messages(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, sig: signal.Signals
) -> None:
    await confirmed(pool, 150)
    sink.delay = 0.05  # every message is in flight for a while: the signal lands mid-DATA
    send = await asyncio.create_subprocess_exec(
        *VERDICTS, "digest", "send", "--week", WEEK,
        env=process_env(settings), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.to_thread(sink.wait_for, 20)
    send.send_signal(sig)
    _, err = await asyncio.wait_for(send.communicate(), 30)
    assert send.returncode == 0, err.decode()
    assert "stopped: the rest is pending" in err.decode()
    await assert_stopped_cleanly(pool, sink)
    assert sink.count() < 150, "stopped mid-send"

    again = await asyncio.create_subprocess_exec(
        *VERDICTS, "digest", "send", "--week", WEEK,
        env=process_env(settings), stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(again.communicate(), 120)
    assert again.returncode == 0, err.decode()
    result = await outcome(pool, sink)
    assert len(result) == 150
    assert_once_each(result)  # every one served exactly once, no unknown
    async with pool.acquire() as conn:
        status = await digest_issues.status(conn, IsoWeek.parse(WEEK))
    assert status.completed_at is not None and status.duplicates == 0
