"""arq worker settings. ``verdicts worker`` runs the worker (``supervisor.py``: it
outlives Redis outages and stops sends between messages on SIGTERM);
``arq services.worker.settings.WorkerSettings`` runs it bare (it exits with Redis).

Delivery semantics (arq's, said loudly): jobs run **at least once**, cron jobs at most
once per fire (``max_tries=1``). Every job here is small, bounded and idempotent;
durable state lives in PostgreSQL, never in Redis. ``arq --check
services.worker.settings.WorkerSettings`` exits 0 while a worker is healthy.

Shutdown: on SIGTERM/SIGINT the worker stops taking jobs and lets running ones finish
for ``job_completion_wait`` seconds (longer than any send budget) before cancelling; a
cancelled send gives its unsent batch back, and the reaper settles the rest. Under
``verdicts worker`` sends end sooner: after their message in flight.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC
from typing import Any, ClassVar

from arq import cron
from arq.connections import RedisSettings

from services.core.clock import system_clock
from services.core.config import exit_misconfigured, load_settings, secret_key_problem
from services.core.db import create_pool
from services.core.logs import configure_logging

from .confirmations import ConfirmationMails
from .jobs import (
    FUNCTIONS,
    Ctx,
    bind_job,
    compact_counters,
    deliver_digests,
    expire_idempotency_keys,
    heartbeat,
    issue_weekly_digest,
    purge_unconfirmed,
    send_confirmations,
)
from .metrics_server import serve_metrics
from .schedule import InvalidScheduleError, Schedule
from .startup_errors import install as install_startup_errors

install_startup_errors()
_settings = load_settings()
# Here, at import, so a worker that must not start says so before arq logs anything.
if _problem := secret_key_problem(_settings):
    exit_misconfigured(_problem)
try:
    _schedule = Schedule.parse(_settings.digest_cron)
except InvalidScheduleError as exc:
    exit_misconfigured(f"configuration error: {exc}")


async def startup(ctx: Ctx) -> None:
    """Open what the jobs use (once: ``verdicts worker`` starts a new arq worker with the
    same context after a Redis outage), then beat."""
    if "pool" not in ctx:
        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        if not settings.database_url:
            exit_misconfigured("DATABASE_URL is not set: the worker's work is in PostgreSQL")
        _ = settings.smtp  # SMTP_URL unset or unusable: ConfigurationError, before any job
        serve_metrics(settings)
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

    functions: ClassVar[list[Any]] = list(FUNCTIONS)
    cron_jobs: ClassVar[list[Any]] = [
        cron(heartbeat, second={0, 15, 30, 45}, timeout=10),
        cron(compact_counters, second={5, 35}, timeout=60),
        cron(send_confirmations, second=set(range(0, 60, 2)), timeout=60),
        cron(deliver_digests, second={1, 11, 21, 31, 41, 51}, timeout=60),
        cron(expire_idempotency_keys, minute=set(range(0, 60, 10)), second=25, timeout=60),
        cron(issue_weekly_digest, **_schedule.arq_options(), timeout=120, max_tries=1),
        cron(purge_unconfirmed, minute={23}, timeout=120),
    ]
    on_startup = startup
    on_shutdown = shutdown
    on_job_start = bind_job
    # Redis unreachable: arq asks once, not five times with a warning line each. `arq
    # --check` answers at once in one line (exit 2); `verdicts worker` (supervisor.py)
    # waits and tries again every second by itself.
    redis_settings = dataclasses.replace(
        RedisSettings.from_dsn(_settings.redis_url or "redis://127.0.0.1:6379/0"), conn_retries=0
    )
    timezone = UTC
    health_check_interval = 10
    job_timeout = 60
    max_tries = 3
    job_completion_wait = 20
    allow_abort_jobs = True
