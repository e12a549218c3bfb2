"""Real servers for the suite: PostgreSQL and Redis from ``DATABASE_URL`` / ``REDIS_URL``
when set, else embedded ones started here. Each test gets a fresh database cloned
from a migrated template, and a fixed clock: no test depends on today's date."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from services.core.clock import Clock, fixed_clock
from services.core.db import create_pool
from services.core.migrations import migrate
from services.core.store import Pool
from services.embedded import redis_server, start_postgres

_counter = itertools.count()

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
"""What the application's clock says in tests: Tuesday of ISO week 2026-W48, the day
after the digest of 2026-W47 (the demo catalog's week) was due."""


@pytest.fixture
def clock() -> Clock:
    return fixed_clock(NOW)


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="verdicts-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def pg_admin_dsn(tmp_root: Path) -> str:
    if url := os.environ.get("DATABASE_URL"):
        return url
    return start_postgres(tmp_root / "pgdata", keep=False)


@pytest.fixture(scope="session")
def redis_url(tmp_root: Path) -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with redis_server(tmp_root / "redis") as url:
        yield url


@pytest.fixture(scope="session")
async def template_db(pg_admin_dsn: str) -> str:
    name = f"verdicts_tpl_{os.getpid()}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"drop database if exists {name}")
        await admin.execute(f"create database {name}")
    finally:
        await admin.close()
    await migrate(with_database(pg_admin_dsn, name))
    return name


@pytest.fixture
async def empty_dsn(pg_admin_dsn: str) -> AsyncIterator[str]:
    """A fresh database with nothing in it, not even the migrations."""
    name = f"verdicts_empty_{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"create database {name}")
    finally:
        await admin.close()
    yield with_database(pg_admin_dsn, name)
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"drop database if exists {name} with (force)")
    finally:
        await admin.close()


@pytest.fixture
async def dsn(pg_admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A fresh, migrated, empty database for one test."""
    name = f"verdicts_t{os.getpid()}_{next(_counter)}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"create database {name} template {template_db}")
        # Durability on crash is not what these tests check; speed is welcome.
        await admin.execute(f"alter database {name} set synchronous_commit = off")
    finally:
        await admin.close()
    yield with_database(pg_admin_dsn, name)
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"drop database if exists {name} with (force)")
    finally:
        await admin.close()


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[Pool]:
    p = await create_pool(dsn, size=20)
    yield p
    await p.close()
