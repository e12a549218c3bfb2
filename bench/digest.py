"""Scenario 7 — issue and send a digest to 10,000 and 100,000 confirmed subscribers
through real SMTP (an aiosmtpd sink on loopback that discards what it accepts).

Ours: ``verdicts digest send`` in its own process (issue once, then the worker's send
path with ``SMTP_CONNECTIONS`` connections), timed from start to exit, its peak RSS
read from the kernel. Baseline: a bare aiosmtplib loop sending one pre-built message
of the same size over the same number of connections to the same sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib

from services.core.config import Settings, SmtpTarget
from services.core.db import connect
from services.core.digest_issues import issued_mail
from services.core.events import CODEC, SubscriptionConfirmed, SubscriptionRequested
from services.core.mail_render import UNSUBSCRIBE_URL
from services.core.replay import replay
from services.core.store import Connection
from services.core.weeks import IsoWeek
from services.embedded import smtp_sink
from services.worker.mime import MailTemplate

from .catalog import bench_catalog
from .env import Bench
from .report import Row, rate, ratio

CONNECTIONS = Settings().smtp_connections
SENDER = Settings().mail_from


async def add_confirmed_subscribers(conn: Connection, count: int) -> None:
    """``count`` subscribers, requested and confirmed, written with COPY, then projected."""
    requested = CODEC.encode(SubscriptionRequested())
    confirmed = CODEC.encode(SubscriptionConfirmed())
    start = datetime(2026, 10, 1, tzinfo=UTC)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    async with conn.transaction():
        await conn.copy_records_to_table(
            "events",
            records=(
                (f"subscriber-{sid}", version, kind, 1, data, start + timedelta(seconds=i))
                for i, sid in enumerate(ids)
                for version, kind, data in (
                    (1, "SubscriptionRequested", requested),
                    (2, "SubscriptionConfirmed", confirmed),
                )
            ),
            columns=["stream_id", "stream_version", "type", "schema_version", "data",
                     "recorded_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "subscriber_emails",
            records=((sid, f"bench-{i}@example.test") for i, sid in enumerate(ids)),
            columns=["subscriber_id", "email"],
        )
    await replay(conn, ["subscribers"])


def send_digest_process(env: dict[str, str], week: IsoWeek) -> tuple[float, int]:
    """Run ``verdicts digest send``; (seconds from start to exit, peak RSS in bytes).

    The peak is the child's own ``VmHWM``, polled until it exits: the kernel's
    ``ru_maxrss`` for a child counts the parent's RSS at fork (Linux keeps the old
    memory map's high-water mark across ``exec``), which here is the bench's own.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "digest", "send", "--week", str(week)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    status = Path(f"/proc/{proc.pid}/status")
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(OSError, StopIteration):
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            peak = max(peak, int(line.split()[1]) * 1024)
        time.sleep(0.05)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"verdicts digest send exited {proc.returncode}")
    return took, peak


async def bare_smtp(port: int, message: bytes, count: int, connections: int) -> float:
    """Messages per second: one pre-built message, ``connections`` sessions in a loop."""
    left = iter(range(count))

    async def session() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        try:
            for i in left:
                await smtp.sendmail("digest@verdicts.localhost", [f"b-{i}@example.test"], message)
        finally:
            await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(session() for _ in range(connections)))
    return count / (time.perf_counter() - started)


async def same_size_message(dsn: str, week: IsoWeek) -> bytes:
    """One digest message as the worker composes it, for the baseline to resend."""
    conn = await connect(dsn)
    try:
        mail = await issued_mail(conn, week)
    finally:
        await conn.close()
    assert mail is not None
    template = MailTemplate(sender=SENDER, mail=mail)
    token = "x" * 120  # an unsubscribe token's length
    return template.personalise(
        to="bench-0@example.test",
        message_id=f"<{uuid.uuid4()}@verdicts.localhost>",
        date=datetime.now(UTC),
        fields={UNSUBSCRIBE_URL: f"http://127.0.0.1:8000/unsubscribe?token={token}"},
        headers=(("List-Unsubscribe", f"<http://127.0.0.1/unsubscribe/one-click?t={token}>"),),
    ).data


async def run(bench: Bench, *, quick: bool) -> list[Row]:
    sizes = (300,) if quick else (10_000, 100_000)
    week = IsoWeek.of(bench_catalog().comparisons[0].published_at)
    rows: list[Row] = []
    with smtp_sink(None) as smtp_url:
        for size in sizes:
            async with bench.database("digest") as dsn:
                conn = await connect(dsn)
                try:
                    await add_confirmed_subscribers(conn, size)
                finally:
                    await conn.close()
                env = {
                    **os.environ,
                    "DATABASE_URL": dsn,
                    "SMTP_URL": smtp_url,
                    "SMTP_CONNECTIONS": str(CONNECTIONS),
                    "PUBLIC_URL": "http://127.0.0.1:8000",
                }
                took, rss = await asyncio.to_thread(send_digest_process, env, week)
                message = await same_size_message(dsn, week)
            ours = size / took
            base = await bare_smtp(SmtpTarget.parse(smtp_url).port, message, size, CONNECTIONS)
            mb = rss / 2**20
            rows.append(
                Row(
                    f"7 digest to {size:,} · {CONNECTIONS} SMTP conns · {len(message):,} B",
                    rate(ours),
                    f"bare aiosmtplib {rate(base)}",
                    ratio(ours / base),
                    "≥ 0.70x",
                    ours / base >= 0.7,
                )
            )
            rows.append(
                Row(
                    f"7 digest to {size:,}: peak RSS of the sender",
                    f"{mb:,.0f} MB",
                    target="< 200 MB" if size >= 100_000 else "—",
                    met=mb < 200 if size >= 100_000 else None,
                )
            )
    return rows
