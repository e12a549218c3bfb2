"""``uvicorn --workers 2``: every scrape, whichever worker answers it, counts the
requests of both; and every line the processes log is one JSON object."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.core.logs import LOG_CONFIG
from services.embedded import free_port
from tests.metrics_text import samples, value

TOKEN = "mp-operator-token"
REQUESTS = 40
MAX_REQUESTS = 2000


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_live(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "uvicorn exited"
        try:
            if _get(f"{base}/livez")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("uvicorn did not answer /livez in 60 s")


class _Log:
    """The server's stderr, parsed line by line as it comes."""

    def __init__(self, server: subprocess.Popen[str]) -> None:
        self.lines: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._read, args=(server,), daemon=True)
        self._thread.start()

    def _read(self, server: subprocess.Popen[str]) -> None:
        assert server.stderr is not None
        for line in server.stderr:
            if line.strip():
                self.lines.append(json.loads(line))

    def requests(self) -> list[dict[str, Any]]:
        return [line for line in list(self.lines) if line["event"] == "request"]

    def join(self) -> None:
        self._thread.join(timeout=30)


def test_two_workers_one_truthful_scrape(dsn: str, redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "metrics-multiprocess-secret-key-32b",
        "OPERATOR_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "--factory", "services.api.app:create_app"),
            *("--port", str(port), "--workers", "2", "--log-config", str(LOG_CONFIG)),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = _Log(server)
    try:
        _wait_live(base, server)
        # One connection per request: the kernel hands each to either worker. Go on
        # until both have served some (bounded), so the scrapes below could lie.
        sent = 0
        while sent < MAX_REQUESTS and (sent < REQUESTS or len(_pids(log)) < 2):
            assert _get(f"{base}/no/such/page/{sent}")[0] == 404
            sent += 1
        _until(lambda: len(log.requests()) == sent)
        scrapes = [_get(f"{base}/metrics", TOKEN) for _ in range(6)]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.join()
        assert server.stderr is not None
        server.stderr.close()
    assert len(_pids(log)) == 2, f"both workers served requests in {sent}"
    for status, text in scrapes:
        assert status == 200
        counted = value(
            samples(text),
            "verdicts_http_requests_total",
            method="GET",
            route="unrouted",
            status="404",
        )
        assert counted == sent
    # Every line, the supervisor's included (--log-config), was one JSON object.
    assert any("parent process" in line["event"] for line in log.lines)


def _pids(log: _Log) -> set[int]:
    return {line["pid"] for line in log.requests()}


def _until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the log did not catch up"
        time.sleep(0.05)
