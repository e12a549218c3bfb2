"""Scenario 6 — growth: append throughput and ``GET /compare`` latency with 0, 1 M and
10 M events already in the log (generated, then replayed into the projections), each
compared with the figure at 0 in the same run."""

from __future__ import annotations

import os
import secrets
import time

from litestar.middleware.csrf import generate_csrf_token

from services.core.db import connect, create_pool
from services.core.replay import replay
from services.embedded import free_port, redis_server

from . import append
from .env import Bench
from .generate import LogGenerator, write_events
from .http import Load, api_server, run_wrk, wrk_script
from .report import Row, ms, rate, ratio

PAGE_CONNECTIONS = 16
WRITERS = 16


async def _grow(dsn: str, generator: LogGenerator, to: int) -> float:
    """Extend the log to ``to`` generated events, rebuild the projections, settle the
    table (vacuum, checkpoint) so no background work skews the next figures; returns
    the replay's rate."""
    conn = await connect(dsn)
    try:
        await write_events(conn, generator, to - generator.generated)
        started = time.perf_counter()
        report = await replay(conn)
        took = time.perf_counter() - started
        await conn.execute("vacuum (analyze) events")
        await conn.execute("checkpoint")
    finally:
        await conn.close()
    return (report.events + report.caught_up) / took


async def _figures(
    bench: Bench, dsn: str, redis_url: str, *, total: int, seconds: int
) -> tuple[float, Load]:
    pool = await create_pool(dsn, size=append.POOL)
    try:
        appends = await append.ours(pool, WRITERS, total)
    finally:
        await pool.close()
    secret = secrets.token_hex(32)
    script = bench.root / "growth-page.lua"
    wrk_script(script, "page", secret, 2_000, generate_csrf_token(secret))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secret,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with api_server("uvicorn", env, port, workers=os.cpu_count() or 1) as url:
        run_wrk(url, script, 2, PAGE_CONNECTIONS)  # warm-up
        page = run_wrk(url, script, seconds, PAGE_CONNECTIONS)
    return appends, page


async def run(bench: Bench, *, quick: bool) -> list[Row]:
    sizes: tuple[int, ...] = (0, 20_000) if quick else (0, 1_000_000, 10_000_000)
    readers, total, seconds = (2_000, 300, 1) if quick else (100_000, 10_000, 15)
    rows: list[Row] = []
    generator = LogGenerator(readers=readers)
    base: tuple[float, Load] | None = None
    with redis_server(bench.root / "redis-growth") as redis_url:
        async with bench.database("growth") as dsn:
            for size in sizes:
                replayed = await _grow(dsn, generator, size) if size else None
                appends, page = await _figures(bench, dsn, redis_url, total=total, seconds=seconds)
                base = base or (appends, page)
                label = f"{size:,} events"
                rows.append(
                    Row(
                        f"6 append · {WRITERS} writers · {label}",
                        rate(appends),
                        f"at 0: {rate(base[0])}",
                        ratio(appends / base[0]),
                        "≥ 0.90x" if size else "—",
                        appends / base[0] >= 0.9 if size else None,
                    )
                )
                rows.append(
                    Row(
                        f"6 GET /compare · {PAGE_CONNECTIONS} conns · {label}",
                        f"p50 {ms(page.p50_ms)} p99 {ms(page.p99_ms)} {rate(page.rate)}"
                        + page.note(),
                        f"at 0: p50 {ms(base[1].p50_ms)}",
                        ratio(page.p50_ms / base[1].p50_ms),
                        "≤ 1.10x" if size else "—",
                        page.p50_ms / base[1].p50_ms <= 1.1 and page.clean if size else None,
                    )
                )
                if replayed:
                    rows.append(Row(f"6 replay to {label} (info)", rate(replayed)))
    return rows
