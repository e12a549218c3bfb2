"""The load run: N uvicorn workers, C readers acting for a set time, then the checks.

Afterwards every acknowledged action must be in the event log exactly once, nothing
may have answered 5xx (or any other error), each reader's standing votes and bookmarks
must be what its answers said, and ``verdicts verify`` (tallies and their history)
must find no drift.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.api.live import REPOSITORY, serve

from .ledger import LedgerCheck, check
from .reader import LoadReader, Stats


@dataclass(frozen=True, kw_only=True)
class LoadReport:
    """What a run did and what the checks found."""

    workers: int
    clients: int
    seconds: float
    requests: int
    statuses: dict[int, int]
    transport_errors: int
    actions: dict[str, int]
    p50_ms: float
    p99_ms: float
    ledger: LedgerCheck
    state_mismatches: list[str]
    verify_output: str
    verify_clean: bool

    @property
    def errors(self) -> int:
        """Answers that were not a success, and requests that got no answer."""
        return self.transport_errors + sum(n for s, n in self.statuses.items() if s >= 400)

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if s >= 500)

    @property
    def ok(self) -> bool:
        return (
            self.errors == 0 and self.ledger.ok and not self.state_mismatches and self.verify_clean
        )

    def summary(self) -> str:
        led = self.ledger
        lines = [
            f"load: {self.workers} uvicorn worker(s), {self.clients} readers, {self.seconds:.1f} s",
            f"  requests   {self.requests:,} ({self.requests / self.seconds:,.1f}/s);"
            f" latency p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms",
            "  actions    " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.actions.items())),
            f"  answers    {dict(sorted(self.statuses.items()))};"
            f" errors {self.errors} (5xx {self.server_errors},"
            f" no answer {self.transport_errors})",
            f"  ledger     {led.acknowledged:,} acknowledged: lost {len(led.lost)},"
            f" duplicated {len(led.duplicated)}, mismatched {len(led.mismatched)},"
            f" phantom {len(led.phantom)}, unanswered but written"
            f" {led.unanswered_but_written}",
            f"  state      {len(self.state_mismatches)} reader(s) differ from their answers",
            f"  verify     {'clean' if self.verify_clean else 'DRIFT'}",
            f"  => {'OK' if self.ok else 'FAILED'}",
        ]
        details = [*led.lost[:5], *led.duplicated[:5], *led.mismatched[:5], *led.phantom[:5]]
        details += self.state_mismatches[:5]
        if not self.verify_clean:
            details.append(self.verify_output)
        return "\n".join(lines + [f"  ! {d}" for d in details])


def percentile(sorted_values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``sorted_values``; 0 for none."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


async def _drive(readers: list[LoadReader], duration: float) -> float:
    for r in readers:
        await r.start()
    started = time.monotonic()
    deadline = started + duration

    async def keep_acting(reader: LoadReader) -> None:
        while time.monotonic() < deadline:
            await reader.act()

    await asyncio.gather(*(keep_acting(r) for r in readers))
    return time.monotonic() - started


async def _state_mismatches(conn: asyncpg.Connection, readers: list[LoadReader]) -> list[str]:
    out = []
    for r in readers:
        votes = {
            (row[0], row[1]): row[2]
            for row in await conn.fetch(
                "select comparison, tool, verdict from reader_votes where reader_id = $1",
                uuid.UUID(r.reader_id),
            )
        }
        bookmarks = {
            row[0]
            for row in await conn.fetch(
                "select tool from reader_bookmarks where reader_id = $1", uuid.UUID(r.reader_id)
            )
        }
        if votes != r.votes or bookmarks != r.bookmarks:
            out.append(f"reader {r.reader_id}: votes/bookmarks differ from its answers")
    return out


def verify(dsn: str) -> tuple[bool, str]:
    """``verdicts verify``, the operator's command, run as a process."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "verify"],
        env={**os.environ, "DATABASE_URL": dsn},
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def _merged(readers: list[LoadReader]) -> Stats:
    total = Stats()
    for r in readers:
        total.latencies += r.stats.latencies
        total.statuses.update(r.stats.statuses)
        total.actions.update(r.stats.actions)
        total.transport_errors += r.stats.transport_errors
    total.latencies.sort()
    return total


async def run_load(
    dsn: str,
    redis_url: str,
    log_dir: Path,
    *,
    workers: int,
    clients: int,
    duration: float,
    seed: int = 1,
) -> LoadReport:
    """Serve ``dsn`` (migrated, demo catalog imported) with ``workers`` uvicorn processes,
    run ``clients`` readers for ``duration`` seconds, then check everything."""
    prefix = f"load-{uuid.uuid4().hex[:8]}"
    with serve(dsn, redis_url, log_dir / "uvicorn.log", workers=workers) as base:
        readers = [LoadReader(base, prefix, i, seed) for i in range(clients)]
        try:
            seconds = await _drive(readers, duration)
        finally:
            for r in readers:
                await r.close()
    conn = await asyncpg.connect(dsn)
    try:
        ledger = await check(conn, prefix, [r.ledger for r in readers])
        mismatches = await _state_mismatches(conn, readers)
    finally:
        await conn.close()
    clean, output = verify(dsn)
    stats = _merged(readers)
    return LoadReport(
        workers=workers,
        clients=clients,
        seconds=seconds,
        requests=sum(stats.statuses.values()) + stats.transport_errors,
        statuses=dict(stats.statuses),
        transport_errors=stats.transport_errors,
        actions=dict(Counter(stats.actions)),
        p50_ms=percentile(stats.latencies, 50) * 1000,
        p99_ms=percentile(stats.latencies, 99) * 1000,
        ledger=ledger,
        state_mismatches=mismatches,
        verify_output=output,
        verify_clean=clean,
    )
