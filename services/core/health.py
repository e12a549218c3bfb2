"""Health of the moving parts, for `/healthz` and `verdicts status`."""

from __future__ import annotations

import time

import msgspec
from redis.asyncio import Redis

from .store import Pool

WORKER_HEARTBEAT_KEY = "verdicts:worker:heartbeat"
HEARTBEAT_STALE_AFTER = 60.0


class Health(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    database: str
    redis: str
    worker: str
    events: int | None = None
    oldest_open_writer_seconds: float | None = None


async def check_health(pool: Pool, redis: Redis) -> Health:
    """What answers and what does not; never raises."""
    database, events, oldest = "ok", None, None
    try:
        async with pool.acquire() as conn:
            events = await conn.fetchval("select coalesce(max(position), 0) from events")
            # Tailing readers wait for the oldest open writing transaction: show its age.
            oldest = await conn.fetchval(
                "select extract(epoch from now() - min(xact_start))::float8"
                " from pg_stat_activity"
                " where backend_xid is not null and datname = current_database()"
            )
    except Exception as exc:  # reported, not raised: this is the health check
        database = f"down: {exc.__class__.__name__}"
    redis_state, worker = "ok", "no heartbeat yet"
    try:
        beat = await redis.get(WORKER_HEARTBEAT_KEY)
        if beat is not None:
            age = time.time() - float(beat)
            worker = "ok" if age < HEARTBEAT_STALE_AFTER else f"stale: last beat {age:.0f}s ago"
    except Exception as exc:  # reported, not raised: this is the health check
        redis_state = f"down: {exc.__class__.__name__}"
        worker = "unknown"
    return Health(
        ok=database == "ok" and redis_state == "ok",
        database=database,
        redis=redis_state,
        worker=worker,
        events=events,
        oldest_open_writer_seconds=oldest,
    )
