"""arq worker settings: ``arq services.worker.settings.WorkerSettings`` starts it.

Delivery semantics (arq's, said loudly): jobs run **at least once**, cron jobs at most
once per fire (``max_tries=1``). Every job here is small, bounded and idempotent;
durable state lives in PostgreSQL, never in Redis. ``arq --check
services.worker.settings.WorkerSettings`` exits 0 while a worker is healthy.

Shutdown: on SIGTERM/SIGINT the worker stops taking jobs and lets running ones finish
for ``job_completion_wait`` seconds (longer than any send budget) before cancelling; a
cancelled send gives its unsent batch back, and the reaper settles the rest.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from services.core.clock import system_clock
from services.core.config import load_settings
from services.core.db import create_pool
from services.core.errors import ConfigurationError

from .confirmations import ConfirmationMails
from .jobs import (
    Ctx,
    compact_counters,
    deliver_digests,
    heartbeat,
    issue_weekly_digest,
    send_confirmations,
)
from .schedule import Schedule
from .startup_errors import install as install_startup_errors

install_startup_errors()
_settings = load_settings()
_schedule = Schedule.parse(_settings.digest_cron)


async def startup(ctx: Ctx) -> None:
    settings = load_settings()
    if not settings.database_url:
        raise ConfigurationError("DATABASE_URL is not set: the worker's work is in PostgreSQL")
    _ = settings.smtp  # SMTP_URL unset or unusable: ConfigurationError, before any job runs
    ctx["settings"] = settings
    ctx["schedule"] = _schedule
    ctx["clock"] = system_clock
    ctx["pool"] = await create_pool(settings.database_url, size=settings.smtp_connections + 4)
    ctx["confirmation_mails"] = ConfirmationMails(settings, clock=system_clock)
    await heartbeat(ctx)


async def shutdown(ctx: Ctx) -> None:
    if pool := ctx.get("pool"):
        await pool.close()


class WorkerSettings:
    """arq's settings class for the verdicts worker."""

    functions: ClassVar[list[Any]] = [issue_weekly_digest, deliver_digests, send_confirmations]
    cron_jobs: ClassVar[list[Any]] = [
        cron(heartbeat, second={0, 15, 30, 45}, timeout=10),
        cron(compact_counters, second={5, 35}, timeout=60),
        cron(send_confirmations, second=set(range(0, 60, 2)), timeout=60),
        cron(deliver_digests, second={1, 11, 21, 31, 41, 51}, timeout=60),
        cron(issue_weekly_digest, **_schedule.arq_options(), timeout=120, max_tries=1),
    ]
    on_startup = startup
    on_shutdown = shutdown
    # Redis unreachable at start (or for `arq --check`): one line and exit 2 at once,
    # not arq's five retries with a warning line each; a supervisor starts it again.
    redis_settings = dataclasses.replace(
        RedisSettings.from_dsn(_settings.redis_url or "redis://127.0.0.1:6379/0"), conn_retries=0
    )
    timezone = UTC
    health_check_interval = 10
    job_timeout = 60
    max_tries = 3
    job_completion_wait = 20
    allow_abort_jobs = True
