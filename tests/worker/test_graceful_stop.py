"""SIGTERM and SIGINT stop a send gracefully: `verdicts digest send` and `verdicts worker`
finish the messages in flight, record them, give claimed rows back and exit 0; the
next send finishes the rest with nobody served twice."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings

from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.outages import process_env

from .conftest import WEEK, Sink, assert_once_each, confirmed, outcome, send_all

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


async def test_verdicts_worker_stops_its_send_between_messages(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, tmp_path: Path
) -> None:
    await confirmed(pool, 150)
    sink.delay = 0.05
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    log = (tmp_path / "worker.log").open("wb")
    worker = await asyncio.create_subprocess_exec(
        *VERDICTS, "worker", env=process_env(settings), stdout=log, stderr=log
    )
    assert settings.redis_url
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await redis.enqueue_job("deliver_digests")
        await asyncio.to_thread(sink.wait_for, 20)
        worker.send_signal(signal.SIGTERM)
        # Well within arq's job_completion_wait (20 s): the send stops after its
        # messages in flight instead of running out its budget.
        assert await asyncio.wait_for(worker.wait(), 15) == 0
    finally:
        await redis.aclose()
        log.close()
    await assert_stopped_cleanly(pool, sink)
    await send_all(pool, settings)
    assert_once_each(await outcome(pool, sink))
