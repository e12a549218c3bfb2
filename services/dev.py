"""`verdicts dev`: the whole system on one machine, embedding whatever is not configured.

Unset ``DATABASE_URL`` starts an embedded PostgreSQL 18 whose data stays in
``.verdicts/pgdata``; unset ``REDIS_URL`` an embedded Redis; unset ``SMTP_URL`` a local
SMTP sink that files every mail in the Maildir ``.verdicts/mail``. Then migrations,
the demo catalog, the API and the worker. Ctrl-C stops all of it.

While it runs, the servers' URLs are published in ``.verdicts/env`` (``dev_servers``), so
``verdicts verify`` or ``verdicts digest send`` in another shell in the same folder act on
this system; the file is deleted when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import asyncpg
from rich.console import Console

from services.core import dev_servers
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.config import Settings
from services.core.db import create_pool
from services.core.migrations import migrate
from services.embedded import redis_server, smtp_sink, start_postgres, wait_for_port

console = Console(soft_wrap=True)  # paths and URLs stay whole, ready to copy


async def _ensure_database(admin_dsn: str, name: str) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("select 1 from pg_database where datname = $1", name):
            await conn.execute(f'create database "{name}"')
    finally:
        await conn.close()
    return admin_dsn.replace("/postgres?", f"/{name}?", 1)


async def _prepare(dsn: str) -> str:
    applied = await migrate(dsn)
    pool = await create_pool(dsn, size=2)
    try:
        report = await import_catalog(pool, load_catalog(DEMO_CATALOG), actor="verdicts dev")
    finally:
        await pool.close()
    return (
        f"migrations applied: {len(applied)}; demo catalog: {len(report.listed)} tools listed, "
        f"{len(report.published)} comparisons published, {report.unchanged} unchanged"
    )


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@dataclass(frozen=True, slots=True)
class Servers:
    """Where the servers ``verdicts dev`` uses are: configured, or embedded here."""

    database_url: str
    redis_url: str
    smtp_url: str


def run_dev(settings: Settings) -> int:
    """Start everything in the foreground until Ctrl-C; returns an exit code."""
    # SIGTERM (a supervisor, `timeout`) stops as cleanly as Ctrl-C, so the embedded
    # PostgreSQL is shut down by its exit hook instead of being left running.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    settings.data_path.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        servers = _start_servers(settings, stack)
        console.print(asyncio.run(_prepare(servers.database_url)))
        stack.callback(_publish(settings, servers).withdraw)
        children = _start_services(settings, servers)
        try:
            return _supervise(settings, servers, children)
        finally:
            _stop(children)


def _start_servers(settings: Settings, stack: contextlib.ExitStack) -> Servers:
    """The configured servers, and embedded ones for what is not configured."""
    data = settings.data_path
    dsn = settings.database_url
    if not dsn:
        admin = start_postgres(data / "pgdata", keep=True)
        dsn = asyncio.run(_ensure_database(admin, "verdicts"))
        console.print(f"[green]embedded PostgreSQL[/] data in {data / 'pgdata'}")
    redis_url = settings.redis_url or stack.enter_context(redis_server(data / "redis", port=6379))
    smtp_url = settings.smtp_url or stack.enter_context(smtp_sink(data / "mail", port=1025))
    if not settings.smtp_url:
        console.print(
            f"[green]SMTP sink[/] {smtp_url}: every mail is a file in {data / 'mail' / 'new'}"
        )
    return Servers(dsn, redis_url, smtp_url)


def _published(settings: Settings, servers: Servers) -> dict[str, str]:
    """What the API, the worker and the commands beside ``verdicts dev`` need to know; all
    of them in development mode, the one mode in which the built-in key may sign."""
    return {
        "VERDICTS_DEVELOPMENT": "1",
        "DATABASE_URL": servers.database_url,
        "REDIS_URL": servers.redis_url,
        "SMTP_URL": servers.smtp_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": settings.public_url,
    }


def _publish(settings: Settings, servers: Servers) -> dev_servers.Publication:
    path = dev_servers.env_file(settings.data_dir)
    publication = dev_servers.publish(path, _published(settings, servers))
    console.print(
        f"[green]published[/] {path}: `verdicts` commands run in this folder use these"
        " servers until dev stops"
    )
    return publication


def _start_services(settings: Settings, servers: Servers) -> list[subprocess.Popen[bytes]]:
    """The API (uvicorn) and the worker (`verdicts worker`), as child processes, in
    development mode: the one mode in which they may sign with the built-in key."""
    env = {**os.environ, **_published(settings, servers)}
    env.setdefault("LOG_FORMAT", "console")  # JSON lines are for log collectors, not a terminal
    api = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "services.api.app:create_app",
            "--host",
            settings.host,
            "--port",
            str(settings.port),
            "--log-level",
            "warning",
            # The app finds the client itself (TRUSTED_PROXIES), as in production.
            "--no-proxy-headers",
        ],
        env=env,
    )
    # `verdicts worker`, as in production: it outlives a Redis restart.
    worker = subprocess.Popen([sys.executable, "-m", "services.cli", "worker"], env=env)
    return [api, worker]


def _supervise(
    settings: Settings, servers: Servers, children: list[subprocess.Popen[bytes]]
) -> int:
    """Wait for Ctrl-C (exit 0) or for a child to die (exit 1)."""
    try:
        if not _serving(settings.port, children):
            console.print("[red]a process exited before the site was up; stopping the rest[/]")
            return 1
        console.print(
            f"\n[bold]verdicts is running[/]\n"
            f"  site     {settings.public_url}/\n"
            f"  health   {settings.public_url}/healthz\n"
            f"  redis    {servers.redis_url}\n"
            f"  mail     {settings.data_path / 'mail' / 'new'}\n"
            f"Ctrl-C stops everything.\n"
        )
        console.file.flush()  # piped (a log, `tee`): show it now, not at exit
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        console.print("[red]a process exited; stopping the rest[/]")
        return 1
    except KeyboardInterrupt:
        console.print("\nstopping…")
        return 0


def _serving(port: int, children: list[subprocess.Popen[bytes]]) -> bool:
    """Wait until the API answers on ``port`` (True) or a child exits first (False);
    no deadline: a slow machine is not an error, and Ctrl-C still stops it."""
    while all(c.poll() is None for c in children):
        with contextlib.suppress(TimeoutError):
            wait_for_port(port, timeout=1)
            return True
    return False


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for c in children:
        if c.poll() is None:
            c.terminate()
    for c in children:
        try:
            c.wait(10)
        except subprocess.TimeoutExpired:
            c.kill()
