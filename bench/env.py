"""The servers a benchmark run measures against, and the machine it ran on.

One embedded PostgreSQL per run, in a temporary directory, with the server's default
durability (fsync and synchronous_commit on: never the tests' shortcuts). Each
measurement gets a fresh database cloned from a template that is migrated and holds
the bench catalog, so no figure is skewed by what an earlier one left behind.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import platform
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg

from services.core.catalog_import import import_catalog
from services.core.db import create_pool
from services.core.migrations import migrate
from services.embedded import start_postgres

from .catalog import bench_catalog

_TEMPLATE = "bench_template"


def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` on the same server."""
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


def socket_dir(dsn: str) -> str:
    """The Unix socket directory (``host=`` query parameter) of an embedded server's DSN."""
    return parse_qs(urlsplit(dsn).query)["host"][0]


async def prepare_database(dsn: str) -> None:
    """Migrate ``dsn`` and import the bench catalog (idempotent)."""
    await migrate(dsn)
    pool = await create_pool(dsn, size=2)
    try:
        await import_catalog(pool, bench_catalog(), actor="bench")
    finally:
        await pool.close()


@dataclass
class Bench:
    """A running benchmark PostgreSQL and a scratch directory."""

    admin_dsn: str
    root: Path
    _names: itertools.count[int]

    @contextlib.asynccontextmanager
    async def database(self, label: str) -> AsyncIterator[str]:
        """A fresh, migrated database with the bench catalog, dropped afterwards."""
        name = f"bench_{label}_{next(self._names)}"
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute(f'create database "{name}" template {_TEMPLATE}')
        finally:
            await admin.close()
        try:
            yield with_database(self.admin_dsn, name)
        finally:
            admin = await asyncpg.connect(self.admin_dsn)
            try:
                await admin.execute(f'drop database if exists "{name}" with (force)')
            finally:
                await admin.close()

    async def server_line(self) -> str:
        conn = await asyncpg.connect(self.admin_dsn)
        try:
            version = await conn.fetchval("show server_version")
            settings = {
                s: await conn.fetchval(f"show {s}")
                for s in ("fsync", "synchronous_commit", "shared_buffers")
            }
        finally:
            await conn.close()
        return f"PostgreSQL {version} (embedded) " + " ".join(
            f"{k}={v}" for k, v in settings.items()
        )


@contextlib.asynccontextmanager
async def start_bench() -> AsyncIterator[Bench]:
    """Start the benchmark PostgreSQL (deleted when the process exits)."""
    with tempfile.TemporaryDirectory(prefix="verdicts-bench-") as tmp:
        root = Path(tmp)
        admin = start_postgres(root / "pgdata", keep=False)
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f"drop database if exists {_TEMPLATE}")
            await conn.execute(f"create database {_TEMPLATE}")
        finally:
            await conn.close()
        await prepare_database(with_database(admin, _TEMPLATE))
        yield Bench(admin, root, itertools.count())


def machine_line() -> str:
    """CPU model, cores, memory, kernel and Python: what a figure was measured on."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    return (
        f"{model}, {os.cpu_count()} cores, {mem} RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )
