"""`verdicts worker` outlives Redis: stopped for several seconds (arq's own runner exits
within one) and started again, the same process takes a job enqueued after it is back."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.jobs import Job
from redis.asyncio import Redis

from services.core.config import Settings
from services.core.health import WORKER_HEARTBEAT_KEY
from services.core.store import Pool
from tests.outages import StoppableRedis, process_env

from .conftest import WEEK

OUTAGE_SECONDS = 4.0


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[StoppableRedis]:
    """A Redis for this test alone: the suite's shared one is never stopped."""
    yield from StoppableRedis.running(tmp_path / "redis")


async def beating(url: str) -> None:
    redis = Redis.from_url(url)
    try:
        async with asyncio.timeout(30):
            while True:
                if await redis.get(WORKER_HEARTBEAT_KEY) is not None:
                    return
                await asyncio.sleep(0.1)
    finally:
        await redis.aclose()


async def enqueue(url: str, function: str, *args: object) -> Job:
    redis = await create_pool(RedisSettings.from_dsn(url))
    try:
        job = await redis.enqueue_job(function, *args)
        assert job is not None
        return job
    finally:
        await redis.aclose()


async def test_worker_outlives_redis_going_away_and_coming_back(
    pool: Pool, settings: Settings, catalog: None, own_redis: StoppableRedis, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "worker",
            env=process_env(settings.with_(redis_url=own_redis.url)), stdout=log, stderr=log,
        )  # fmt: skip
        try:
            await beating(own_redis.url)  # its startup wrote the heartbeat: it is up
            own_redis.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            alive_during = worker.returncode is None
            own_redis.start()

            job = await enqueue(own_redis.url, "issue_weekly_digest", WEEK)
            redis = await create_pool(RedisSettings.from_dsn(own_redis.url))
            try:
                done = await Job(job.job_id, redis).result(timeout=60, poll_delay=0.1)
            finally:
                await redis.aclose()
            alive_after = worker.returncode is None
        finally:
            worker.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(worker.wait(), 30)
    said = log_path.read_text()

    assert alive_during and alive_after, said
    assert done.startswith(f"{WEEK}: issued"), done
    assert await pool.fetchval("select count(*) from digest_issues where week = $1", WEEK) == 1
    assert code == 0, said
    assert said.count("Redis (the arq queue) unavailable") == 1, said
    assert said.count("Redis (the arq queue) back after") == 1, said
    assert "Traceback" not in said, said
