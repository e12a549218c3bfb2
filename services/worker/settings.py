"""arq worker settings: ``arq services.worker.settings.WorkerSettings`` starts it.

Delivery semantics (arq's, said loudly): jobs run **at least once**. Every job here is
small and idempotent; durable state lives in PostgreSQL, never in Redis.
"""

from __future__ import annotations

import time
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from services.core.config import load_settings
from services.core.db import create_pool
from services.core.health import WORKER_HEARTBEAT_KEY
from services.core.projections.counters import compact

Ctx = dict[str, Any]


async def startup(ctx: Ctx) -> None:
    settings = load_settings()
    if not settings.database_url:
        raise SystemExit("DATABASE_URL must be set for the worker (or use `verdicts dev`)")
    ctx["settings"] = settings
    ctx["pool"] = await create_pool(settings.database_url, size=5)
    await heartbeat(ctx)


async def shutdown(ctx: Ctx) -> None:
    if pool := ctx.get("pool"):
        await pool.close()


async def heartbeat(ctx: Ctx) -> None:
    """Tell `/healthz` this worker is alive."""
    await ctx["redis"].set(WORKER_HEARTBEAT_KEY, str(time.time()), ex=300)


async def compact_counters(ctx: Ctx) -> int:
    """Fold counter deltas (the API does this too; one at a time, the rest skip)."""
    async with ctx["pool"].acquire() as conn:
        return await compact(conn)


def _redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(load_settings().redis_url or "redis://127.0.0.1:6379/0")


class WorkerSettings:
    """arq's settings class for the verdicts worker."""

    functions: list[Any] = []
    cron_jobs = [
        cron(heartbeat, second={0, 15, 30, 45}, run_at_startup=False, timeout=10),
        cron(compact_counters, second={5, 35}, timeout=60),
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = _redis_settings()
    health_check_interval = 10
    job_timeout = 60
    max_tries = 5
    allow_abort_jobs = True
