"""Faults during a digest send: SMTP going away, a SIGKILLed sender, a double cron fire
and two workers at once. After each, every confirmed subscriber has exactly one digest
(only rows marked ``unknown`` may differ, and never silently), and the ledger says so."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from arq import create_pool
from arq.connections import RedisSettings

from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek

from .conftest import WEEK, Sink, assert_once_each, confirmed, outcome, send_all, until

VERDICTS = [sys.executable, "-m", "services.cli"]


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    assert settings.database_url and settings.redis_url and settings.smtp_url
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SMTP_URL": settings.smtp_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": settings.public_url,
        "MAIL_FROM": settings.mail_from,
        "MAIL_RETRY_SECONDS": "0.05",
        "SMTP_CONNECTIONS": "3",
        "MAIL_BATCH_SIZE": "20",
        **extra,
    }


async def test_smtp_refuses_connections_for_a_while_then_comes_back(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    await confirmed(pool, 150)
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    sink.delay = 0.005
    sending = asyncio.create_task(send_all(pool, settings))
    await asyncio.to_thread(sink.wait_for, 40)
    await asyncio.to_thread(sink.stop)  # connections refused from here on
    refused = (
        "select max(updated_at) from digest_recipients"
        " where state = 'pending' and detail like 'SMTP server % unavailable: %'"
    )
    await until(pool, f"select ({refused}) is not null")
    stalled, first_refusal = sink.count(), await pool.fetchval(refused)
    # The sender comes back for the rows and is refused again: nothing more arrives.
    await until(pool, f"select ({refused}) > $1", first_refusal)
    assert not sending.done() and sink.count() == stalled
    await asyncio.to_thread(sink.start)
    await sending

    result = await outcome(pool, sink)
    assert len(result) == 150
    # Connections cut mid-DATA by the shutdown may be unknown: at most one per connection.
    assert_once_each(result, max_unknown=settings.smtp_connections)


async def test_sender_killed_mid_send_then_restarted(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    await confirmed(pool, 300)
    sink.delay = 0.01
    env = env_for(settings, MAIL_LEASE_SECONDS="1")
    first = await asyncio.create_subprocess_exec(
        *VERDICTS, "digest", "send", "--week", WEEK, env=env, stderr=asyncio.subprocess.DEVNULL
    )
    await asyncio.to_thread(sink.wait_for, 100)
    os.kill(first.pid, signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL
    assert sink.count() < 300, "killed mid-send"

    again = await asyncio.create_subprocess_exec(
        *VERDICTS, "digest", "send", "--week", WEEK, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(again.communicate(), 120)
    assert again.returncode == 0, err.decode()
    assert "already issued" in err.decode()

    result = await outcome(pool, sink)
    assert len(result) == 300
    # Only messages whose SMTP transaction was under way at the kill (one per
    # connection) are unknown; everyone else got exactly one.
    assert_once_each(result, max_unknown=3)
    async with pool.acquire() as conn:
        status = await digest_issues.status(conn, IsoWeek.parse(WEEK))
    assert status.completed_at is not None and status.duplicates == 0
    assert status.states.get("unknown", 0) == sum(v[0] == "unknown" for v in result.values())


async def test_two_workers_and_a_double_cron_fire(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, tmp_path: Path
) -> None:
    await confirmed(pool, 200)
    sink.delay = 0.005
    assert settings.redis_url
    env = env_for(settings)
    logs = [(tmp_path / f"worker{i}.log").open("wb") for i in range(2)]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "arq",
            "services.worker.settings.WorkerSettings",
            env=env,
            stdout=log,
            stderr=log,
        )
        for log in logs
    ]
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        # The same cron fire delivered twice (two job ids), and delivery jobs for both.
        for fire in ("a", "b"):
            await redis.enqueue_job("issue_weekly_digest", WEEK, _job_id=f"issue-{WEEK}-{fire}")
        await until(pool, "select 1 from digest_issues where week = $1", WEEK)
        check = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "arq",
            "--check",
            "services.worker.settings.WorkerSettings",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert await check.wait() == 0, "arq --check: the workers report healthy"
        for _ in range(4):
            await redis.enqueue_job("deliver_digests")
        await until(
            pool, "select completed_at is not null from digest_issues where week = $1", WEEK
        )
    finally:
        await redis.aclose()
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            assert await asyncio.wait_for(w.wait(), 30) == 0
        for log in logs:
            log.close()

    assert (
        await pool.fetchval("select count(*) from events where stream_id = $1", f"digest-{WEEK}")
        == 2  # DigestIssued once, DigestCompleted once
    )
    result = await outcome(pool, sink)
    assert len(result) == 200
    assert_once_each(result)


async def test_sigterm_lets_the_running_send_finish_cleanly(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, tmp_path: Path
) -> None:
    await confirmed(pool, 120)
    sink.delay = 0.03
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    log = (tmp_path / "worker.log").open("wb")
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "arq",
        "services.worker.settings.WorkerSettings",
        env=env_for(settings),
        stdout=log,
        stderr=log,
    )
    assert settings.redis_url
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        await redis.enqueue_job("deliver_digests")
        await asyncio.to_thread(sink.wait_for, 20)
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 40) == 0
    finally:
        await redis.aclose()
        log.close()
    rows = await pool.fetch("select state, count(*) from digest_recipients group by 1")
    states: dict[str, int] = {r[0]: r[1] for r in rows}
    assert set(states) <= {"sent", "pending"} and states["sent"] >= 20, states
    await send_all(pool, settings)
    assert_once_each(await outcome(pool, sink))
