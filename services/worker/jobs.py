"""The arq jobs: small, bounded, idempotent. The truth they act on is in PostgreSQL.

arq runs jobs at least once, a cron job only once (``max_tries=1``) and dedupes job
ids only while their keys live; none of that matters here, because every job re-reads
its work from PostgreSQL and every step is idempotent there.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from services.core import digest_issues, subscriptions
from services.core.clock import Clock
from services.core.health import WORKER_HEARTBEAT_KEY
from services.core.logs import bind
from services.core.metrics import WORKER_HEARTBEAT
from services.core.projections.counters import compact
from services.core.weeks import IsoWeek
from services.core.writes import STORE

from .confirmations import CONFIRMATIONS, ConfirmationMails, ingest
from .digest_delivery import send_week
from .dispatch import Dispatcher
from .schedule import Schedule

log = logging.getLogger(__name__)

Ctx = dict[str, Any]
"""arq's job context; ``stopping`` (an ``asyncio.Event``, set by ``verdicts worker`` on
SIGTERM/SIGINT) ends a send between messages."""

CONFIRMATION_BUDGET = 10.0
"""Seconds a confirmation run may send for; it runs every 2 s."""
DIGEST_BUDGET = 8.0
"""Seconds a digest run may send for: below its 10 s period and the shutdown grace."""


async def bind_job(ctx: Ctx) -> None:
    """arq's ``on_job_start``: the job's log lines carry its id. Each job runs in a
    task of its own, so the binding ends with the job."""
    bind(job_id=ctx["job_id"])


def _done(what: str, counts: dict[str, int]) -> None:
    """One line for work actually done; ticks that found nothing to do stay quiet."""
    if any(counts.values()):
        log.info(what, extra=counts)


async def heartbeat(ctx: Ctx) -> None:
    """Tell `/healthz` (and this worker's metrics) that the worker is alive."""
    now = time.time()
    await ctx["redis"].set(WORKER_HEARTBEAT_KEY, str(now), ex=300)
    WORKER_HEARTBEAT.set(now)


async def compact_counters(ctx: Ctx) -> int:
    """Fold counter deltas (the API does this too; one at a time, the rest skip)."""
    async with ctx["pool"].acquire() as conn:
        folded: int = await compact(conn)
    _done("counter deltas compacted", {"folded": folded})
    return folded


async def expire_idempotency_keys(ctx: Ctx) -> int:
    """Delete the ``Idempotency-Key``s that expired (a day after their request) by the
    worker's clock; each can then name a new request."""
    clock: Clock = ctx["clock"]
    async with ctx["pool"].acquire() as conn:
        expired: int = await STORE.expire_keys(conn, now=clock())
        return expired


async def send_confirmations(ctx: Ctx) -> dict[str, int]:
    """File new subscription requests from the log and send due confirmation mails."""
    pool, settings = ctx["pool"], ctx["settings"]
    async with pool.acquire() as conn:
        reaped = await CONFIRMATIONS.reap(conn)
    filed = await ingest(
        pool,
        daily_limit=settings.confirm_daily_limit,
        hourly_limit=settings.confirm_hourly_limit,
    )
    mails: ConfirmationMails = ctx["confirmation_mails"]
    dispatcher = Dispatcher(pool, settings, mails, clock=ctx["clock"], stop=ctx.get("stopping"))
    progress = await dispatcher.run(budget=CONFIRMATION_BUDGET)
    counts = {
        "filed": filed,
        "sent": progress.sent,
        "bounced": progress.bounced,
        "unknown": reaped.unknown + progress.unknown,
    }
    _done("confirmation mails", counts)
    return counts


async def issue_weekly_digest(ctx: Ctx, week: str | None = None) -> str:
    """Issue the digest of ``week`` (default: the last complete ISO week) once, then
    start sending it for at most ``DIGEST_BUDGET`` seconds.

    Sending here, after the issuing transaction committed, is what makes an issue
    independent of ``deliver_digests``: a pass of it that started before the commit
    cannot see the new week, and must not have to."""
    pool, settings = ctx["pool"], ctx["settings"]
    clock: Clock = ctx["clock"]
    target = IsoWeek.parse(week) if week else IsoWeek.last_complete(clock())
    result = await digest_issues.issue(pool, settings, target)
    summary = f"{target}: {result.outcome.value}, {result.recipients} recipient(s)"
    if result.outcome is digest_issues.IssueOutcome.NOTHING_NEW:
        return summary
    run = await send_week(
        pool, settings, target, budget=DIGEST_BUDGET, clock=clock, stop=ctx.get("stopping")
    )
    log.info(
        "digest issued",
        extra={
            "week": str(target),
            "outcome": result.outcome.value,
            "recipients": result.recipients,
            "sent": run.progress.sent,
        },
    )
    return f"{summary}, {run.progress.sent} sent now"


async def deliver_digests(ctx: Ctx) -> dict[str, int]:
    """Issue an overdue digest (a worker down at the scheduled time catches up), then
    send what is due of every open week, for at most ``DIGEST_BUDGET`` seconds."""
    pool, settings = ctx["pool"], ctx["settings"]
    schedule: Schedule = ctx["schedule"]
    clock: Clock = ctx["clock"]
    now = clock()
    due = IsoWeek.last_complete(now)
    if now >= schedule.next_after(due.end - timedelta(seconds=1)):
        await digest_issues.issue(pool, settings, due)
    async with pool.acquire() as conn:
        weeks = await digest_issues.open_weeks(conn)
    deadline = time.monotonic() + DIGEST_BUDGET
    stop = ctx.get("stopping")
    sent = unknown = 0
    for week in weeks:
        left = deadline - time.monotonic()
        if left <= 0 or (stop is not None and stop.is_set()):
            break
        run = await send_week(pool, settings, week, budget=left, clock=clock, stop=stop)
        sent += run.progress.sent
        unknown += run.progress.unknown + run.reaped_unknown
    _done("digest delivery", {"sent": sent, "unknown": unknown})
    return {"weeks": len(weeks), "sent": sent, "unknown": unknown}


async def purge_unconfirmed(ctx: Ctx) -> int:
    """Erase subscriptions not confirmed within ``UNCONFIRMED_RETENTION_DAYS`` of their
    last request: their address is kept no longer than a confirm link could need it."""
    clock: Clock = ctx["clock"]
    cutoff = clock() - timedelta(days=ctx["settings"].unconfirmed_retention_days)
    purged = 0
    # Each erasure commits alone, so a run cut short by its timeout loses nothing.
    while batch := await subscriptions.purge_unconfirmed(ctx["pool"], requested_before=cutoff):
        purged += batch
    return purged


FUNCTIONS = (issue_weekly_digest, deliver_digests, send_confirmations, expire_idempotency_keys)
"""The jobs that can be enqueued (the cron jobs are in ``settings``)."""
