"""Health of the moving parts: `/healthz` (the detailed one) and `/readyz`.

``/readyz`` answers whether this process should take traffic: the database answers
and its schema is the one this code was built for (``schema_migrations`` against the
packaged ``schema/`` files). Redis is reported but does not decide it: readers vote,
bookmark and subscribe while it is down (limits degrade), so an instance without it
still serves, and taking every instance out of rotation would turn a Redis outage
into a site outage.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Literal

import msgspec
from redis.asyncio import Redis

from .migrations import Migration, load_migrations
from .status import OLDEST_OPEN_WRITER
from .store import Pool

WORKER_HEARTBEAT_KEY = "verdicts:worker:heartbeat"
HEARTBEAT_STALE_AFTER = 60.0


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """``status``: ``ok``; ``degraded`` (Redis down: the site serves, limits count per
    process, confirmations wait); ``down`` (the database is unreachable)."""

    ok: bool
    status: Literal["ok", "degraded", "down"]
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
            oldest = await conn.fetchval(OLDEST_OPEN_WRITER)
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
    status: Literal["ok", "degraded", "down"] = "ok"
    if database != "ok":
        status = "down"
    elif redis_state != "ok":
        status = "degraded"
    return Health(
        ok=status == "ok",
        status=status,
        database=database,
        redis=redis_state,
        worker=worker,
        events=events,
        oldest_open_writer_seconds=oldest,
    )


PROBE_TIMEOUT = 2.0
"""Seconds a readiness check may wait on one dependency before calling it down."""


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    database: str
    migrations: str
    redis: str
    pending_migrations: tuple[str, ...] = ()
    changed_migrations: tuple[str, ...] = ()


@functools.cache
def _packaged() -> tuple[Migration, ...]:
    return tuple(load_migrations())


def migration_state(applied: dict[str, str]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """Compare ``applied`` (name -> checksum) with the packaged migrations: a summary,
    the packaged ones not applied, and the applied ones whose file has changed."""
    pending = tuple(m.name for m in _packaged() if m.name not in applied)
    changed = tuple(m.name for m in _packaged() if applied.get(m.name, m.checksum) != m.checksum)
    if changed:
        return "changed since applied: " + ", ".join(changed), pending, changed
    if pending:
        return "pending: " + ", ".join(pending), pending, changed
    return "current", pending, changed


async def check_ready(pool: Pool, redis: Redis) -> Readiness:
    """Database reachable and migrated to this code's schema; Redis reported. Never raises."""
    database, migrations = "ok", "unknown"
    pending: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    try:
        async with asyncio.timeout(PROBE_TIMEOUT), pool.acquire() as conn:
            rows = await conn.fetch("select name, checksum from schema_migrations")
        migrations, pending, changed = migration_state({r[0]: r[1] for r in rows})
    except Exception as exc:  # reported, not raised: this is the probe
        database = f"down: {exc.__class__.__name__}"
    redis_state = "ok"
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await redis.ping()
    except Exception as exc:  # reported, not raised: this is the probe
        redis_state = f"down: {exc.__class__.__name__}"
    return Readiness(
        ok=database == "ok" and migrations == "current",
        database=database,
        migrations=migrations,
        redis=redis_state,
        pending_migrations=pending,
        changed_migrations=changed,
    )
