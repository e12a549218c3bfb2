"""Migrations apply each file once, in order, even when runners race."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from services.core.migrations import MigrationChangedError, load_migrations, migrate
from tests.conftest import with_database


@pytest.fixture
async def empty_dsn(pg_admin_dsn: str) -> str:
    name = f"verdicts_mig_{uuid.uuid4().hex}"
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        await conn.execute(f"create database {name}")
    finally:
        await conn.close()
    return with_database(pg_admin_dsn, name)


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
