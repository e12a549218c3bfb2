"""The worker's tests: real arq on real Redis, a real SMTP server (``tests/fixtures``)."""

from __future__ import annotations

import asyncio
import uuid

from arq import Worker, create_pool
from arq.connections import RedisSettings

from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from tests.fixtures import CLOCK, WEEK, Sink, catalog, confirmed, settings, sink

__all__ = ["CLOCK", "WEEK", "Sink", "catalog", "confirmed", "settings", "sink"]
from services.core.weeks import IsoWeek
from services.worker.confirmations import ConfirmationMails
from services.worker.digest_delivery import send_week
from services.worker.jobs import FUNCTIONS
from services.worker.schedule import Schedule

Job = tuple[str, tuple[object, ...]]
"""An arq job by name, with its arguments."""


async def run_jobs(
    settings: Settings, pool: Pool, *jobs: Job, together: bool = False, clock: Clock = CLOCK
) -> None:
    """Run ``jobs`` with a real arq worker on real Redis (burst mode).

    By default one after another, in the order given, each to its end. With
    ``together`` they are enqueued at once and run concurrently: arq promises no order
    then, so a test that uses it must hold whichever job finishes first."""
    batches = [list(jobs)] if together else [[job] for job in jobs]
    assert settings.redis_url
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        for batch in batches:
            queue = f"verdicts-test-{uuid.uuid4().hex}"
            for name, args in batch:
                assert await redis.enqueue_job(name, *args, _queue_name=queue) is not None
            worker = Worker(
                functions=list(FUNCTIONS),
                redis_pool=redis,
                queue_name=queue,
                burst=True,
                handle_signals=False,
                max_jobs=len(batch),
                poll_delay=0.05,
                ctx={
                    "pool": pool,
                    "settings": settings,
                    "clock": clock,
                    "schedule": Schedule.parse(settings.digest_cron),
                    "confirmation_mails": ConfirmationMails(settings, clock=clock),
                },
            )
            # Not worker.close(): arq calls redis' deprecated close() there.
            await worker.async_run()
            assert worker.jobs_failed == 0
    finally:
        await redis.aclose()


async def send_all(pool: Pool, settings: Settings, week: str = WEEK) -> None:
    """Run digest passes as the worker's ticks would, until the week is complete."""
    async with asyncio.timeout(60):
        while True:
            run = await send_week(pool, settings, IsoWeek.parse(week), clock=CLOCK)
            if run.complete:
                return
            await asyncio.sleep(settings.mail_retry_seconds)


async def outcome(pool: Pool, sink: Sink, week: str = WEEK) -> dict[str, tuple[str, int, int]]:
    """Per recipient address: (queue state, messages received, ledger deliveries)."""
    rows = await pool.fetch(
        "select e.email, r.state, coalesce(d.deliveries, 0) from digest_recipients r"
        " join subscriber_emails e using (subscriber_id)"
        " left join digest_deliveries d on d.week = r.week and d.subscriber_id = r.subscriber_id"
        " where r.week = $1",
        week,
    )
    digests = [r for r in sink.received if b"Message-ID: <digest-" + week.encode() in r.data]
    got: dict[str, int] = {}
    for r in digests:
        got[r.rcpt] = got.get(r.rcpt, 0) + 1
    return {r[0]: (r[1], got.get(r[0], 0), r[2]) for r in rows}


def assert_once_each(result: dict[str, tuple[str, int, int]], *, max_unknown: int = 0) -> None:
    """Every recipient served exactly once, except ``unknown`` rows (at most once, and
    at most ``max_unknown`` of them); nobody silently skipped."""
    unknown = {a: v for a, v in result.items() if v[0] == "unknown"}
    assert len(unknown) <= max_unknown, unknown
    for address, (state, received, delivered) in result.items():
        if state == "unknown":
            assert received <= 1 and delivered == 0, (address, state, received)
        else:
            assert (state, received, delivered) == ("sent", 1, 1), (address, state, received)


async def until(pool: Pool, query: str, *args: object, within: float = 60) -> None:
    """Wait until ``query`` returns a true value."""
    async with asyncio.timeout(within):
        while True:
            if await pool.fetchval(query, *args):
                return
            await asyncio.sleep(0.05)
