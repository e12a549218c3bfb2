"""The API under a real uvicorn on loopback, for Schemathesis and the browser tests.

``live_url`` serves a database of its own (cloned from the migrated template, demo
catalog imported) for the whole test module. Import the fixtures into a conftest.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from litestar import Litestar

from services.api.app import create_app
from services.api.security import Limits
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.config import load_settings
from services.core.db import create_pool
from services.embedded import free_port, wait_for_port
from tests.conftest import with_database

LIVE_SECRET = "live-test-secret-of-at-least-32-bytes"
REPOSITORY = Path(__file__).resolve().parents[2]
"""Where uvicorn runs, so that it imports ``tests.api.live``."""


def create_live_app() -> Litestar:
    """uvicorn's factory: the app from the environment, with limits no test run reaches."""
    return create_app(
        load_settings(),
        limits=Limits(
            votes=("minute", 100_000),
            bookmarks=("minute", 100_000),
            subscriptions=("minute", 100_000),
            new_readers=("minute", 100_000),
            namespace=os.environ["TEST_RATELIMIT_NAMESPACE"],
        ),
    )


@pytest.fixture(scope="module")
async def live_dsn(pg_admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    name = f"verdicts_live_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"create database {name} template {template_db}")
    finally:
        await admin.close()
    dsn = with_database(pg_admin_dsn, name)
    pool = await create_pool(dsn, size=2)
    try:
        await import_catalog(pool, load_catalog(DEMO_CATALOG))
    finally:
        await pool.close()
    yield dsn
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"drop database if exists {name} with (force)")
    finally:
        await admin.close()


@contextlib.contextmanager
def serve(dsn: str, redis_url: str, log_path: Path, *, workers: int = 1) -> Iterator[str]:
    """``create_live_app`` under uvicorn (``workers`` processes) on a free loopback port;
    yields its base URL. Fails if the server logged a traceback."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "SECRET_KEY": LIVE_SECRET,
        "PUBLIC_URL": base,
        "TEST_RATELIMIT_NAMESPACE": f"test:{uuid.uuid4().hex}",
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "tests.api.live:create_live_app",
             "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
             "--workers", str(workers)],
            env=env, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=30)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    server_log = log_path.read_text()
    assert "Traceback" not in server_log, server_log


@pytest.fixture(scope="module")
def live_url(
    live_dsn: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of the app running under uvicorn in a subprocess."""
    log_path: Path = tmp_path_factory.mktemp("uvicorn") / "uvicorn.log"
    with serve(live_dsn, redis_url, log_path) as base:
        yield base
