"""Scenario 5 — rebuild every projection from a generated log of a million events.

Baseline: the time PostgreSQL takes to read the events table once
(``COPY (SELECT * FROM events) TO STDOUT`` into nothing), on the same warm table.
Then ``verify`` on the result, which must find no drift.
"""

from __future__ import annotations

import time

from services.core.db import connect
from services.core.replay import replay
from services.core.tallies import verify

from .env import Bench
from .generate import LogGenerator, write_events
from .report import Row, median, rate, ratio, seconds


async def copy_out_seconds(dsn: str) -> float:
    """Seconds to stream the whole events table out of the server and drop it."""
    conn = await connect(dsn)
    try:

        async def discard(_: bytes) -> None:
            return None

        start = time.perf_counter()
        await conn.copy_from_query("select * from events", output=discard)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def replay_seconds(dsn: str) -> tuple[float, int]:
    """Seconds ``replay`` takes to rebuild all projections, and the events it applied."""
    conn = await connect(dsn)
    try:
        start = time.perf_counter()
        report = await replay(conn)
        return time.perf_counter() - start, report.events + report.caught_up
    finally:
        await conn.close()


async def verify_seconds(dsn: str) -> tuple[float, int]:
    """Seconds ``verify`` takes, and how many tallies drifted."""
    conn = await connect(dsn)
    try:
        start = time.perf_counter()
        drifts = await verify(conn)
        return time.perf_counter() - start, len(drifts)
    finally:
        await conn.close()


async def generate(dsn: str, events: int, readers: int) -> LogGenerator:
    generator = LogGenerator(readers=readers)
    conn = await connect(dsn)
    try:
        await write_events(conn, generator, events)
    finally:
        await conn.close()
    return generator


async def run(bench: Bench, *, quick: bool) -> list[Row]:
    events, readers, reps = (20_000, 2_000, 1) if quick else (1_000_000, 100_000, 3)
    async with bench.database("replay") as dsn:
        await generate(dsn, events, readers)
        await copy_out_seconds(dsn)  # warm the cache for both contenders alike
        base: list[float] = []
        ours: list[float] = []
        for _ in range(reps):
            base.append(await copy_out_seconds(dsn))
            took, applied = await replay_seconds(dsn)
            ours.append(took)
        checked, drifts = await verify_seconds(dsn)
    o, b = median(ours), median(base)
    label = f"{applied:,} events"
    return [
        Row(
            f"5 replay {label}: time",
            seconds(o),
            f"COPY out {seconds(b)}",
            ratio(o / b),
            "≤ 4.00x",
            o / b <= 4.0,
        ),
        Row(
            f"5 replay {label}: rate",
            rate(applied / o),
            target="≥ 200,000/s",
            met=applied / o >= 200_000,
        ),
        Row(
            f"5 verify after replay ({drifts} drifted)",
            seconds(checked),
            target="≤ 5 s, no drift",
            met=checked <= 5 and drifts == 0,
        ),
    ]
