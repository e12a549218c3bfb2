"""``python -m tests.load``: the load run on embedded PostgreSQL and Redis (loopback only).

    .venv/bin/python -m tests.load --workers 2 --clients 16 --duration 600

Prints the summary (throughput, p50/p99, errors, the ledger check, verify) and exits 0
when every check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import asyncpg

from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.db import create_pool
from services.core.migrations import migrate
from services.embedded import redis_server, start_postgres
from tests.conftest import with_database

from .harness import LoadReport, run_load


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--clients", type=int, default=16, help="readers acting at once")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--seed", type=int, default=1, help="what the readers choose to do")
    return parser.parse_args(argv)


async def prepared(admin_dsn: str) -> str:
    """A new database, migrated, with the demo catalog."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("create database verdicts_load")
    finally:
        await conn.close()
    dsn = with_database(admin_dsn, "verdicts_load")
    await migrate(dsn)
    pool = await create_pool(dsn, size=2)
    try:
        await import_catalog(pool, load_catalog(DEMO_CATALOG))
    finally:
        await pool.close()
    return dsn


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    with tempfile.TemporaryDirectory(prefix="verdicts-load-") as tmp:
        root = Path(tmp)
        admin = start_postgres(root / "pgdata", keep=False)
        with redis_server(root / "redis") as redis_url:
            dsn = asyncio.run(prepared(admin))
            report: LoadReport = asyncio.run(
                run_load(
                    dsn, redis_url, root,
                    workers=args.workers, clients=args.clients,
                    duration=args.duration, seed=args.seed,
                )
            )  # fmt: skip
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
