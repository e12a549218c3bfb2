"""Migrations apply each file once, in order, even when runners race."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
import pytest

from services.core.migrations import (
    MigrationChangedError,
    NoMigrationsError,
    load_migrations,
    migrate,
)


async def test_concurrent_runners_apply_each_migration_once(empty_dsn: str) -> None:
    results = await asyncio.gather(*(migrate(empty_dsn) for _ in range(4)))
    names = [m.name for m in load_migrations()]
    assert sorted(n for r in results for n in r) == names, "each file applied by exactly one"
    conn = await asyncpg.connect(empty_dsn)
    try:
        applied = [r[0] for r in await conn.fetch("select name from schema_migrations order by 1")]
    finally:
        await conn.close()
    assert applied == names
    assert await migrate(empty_dsn) == []


async def test_racing_processes(empty_dsn: str) -> None:
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            f"import asyncio; from services.core.migrations import migrate; "
            f"print(len(asyncio.run(migrate({empty_dsn!r}))))",
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    outputs = [int((await p.communicate())[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sorted(outputs) == [0, 0, len(load_migrations())]


async def test_an_applied_file_that_changed_is_refused(empty_dsn: str, tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("create table a (x int);")
    await migrate(empty_dsn, directory=tmp_path)
    (tmp_path / "0001_a.sql").write_text("create table a (x bigint);")
    with pytest.raises(MigrationChangedError, match=r"0001_a\.sql"):
        await migrate(empty_dsn, directory=tmp_path)


async def test_finding_no_migrations_is_an_error(empty_dsn: str, tmp_path: Path) -> None:
    with pytest.raises(NoMigrationsError, match="no migrations"):
        await migrate(empty_dsn, directory=tmp_path)
    conn = await asyncpg.connect(empty_dsn)
    try:
        assert await conn.fetchval("select to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


def test_the_package_ships_the_repository_schema() -> None:
    """``services.schema`` is ``schema/`` mapped into the package (setup.py)."""
    shipped = [m.name for m in load_migrations()]
    in_repository = sorted(p.name for p in (Path(__file__).parents[2] / "schema").glob("*.sql"))
    assert shipped == in_repository and len(shipped) >= 5
