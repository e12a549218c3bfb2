"""The logs of a whole reader flow, as an operator's collector gets them: uvicorn and
the arq worker as real processes, subscribe, confirm through the mailed link, get the
digest, one-click out. Every line is JSON; no line holds the address or a token; the
API's lines carry the request id the events store, the worker's the job id; the
worker's cron ticks leave no lines; the worker's own /metrics counted the mails."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings

from services.core.config import Settings
from services.core.logs import LOG_CONFIG
from services.core.store import Pool
from services.embedded import free_port, wait_for_port
from tests.metrics_text import samples, value

from .conftest import WEEK, Sink
from .test_flow import bodies

ADDRESS = "Flow.Reader@Example.com"
CONFIRM_LINK = re.compile(r"http://127\.0\.0\.1:\d+/subscribe/confirm\?token=[A-Za-z0-9_.\-]+")
IDLE = 6.0
"""Seconds the worker idles at the end: three confirmation ticks, at least one
delivery tick; none may log a line."""


@pytest.fixture
def processes(
    settings: Settings, tmp_path: Path, catalog: None
) -> Iterator[tuple[str, int, dict[str, subprocess.Popen[str]]]]:
    port, metrics_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    assert settings.database_url and settings.redis_url and settings.smtp_url
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "SMTP_URL": settings.smtp_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": base,
        "MAIL_FROM": settings.mail_from,
        "WORKER_METRICS_PORT": str(metrics_port),
    }
    env.pop("LOG_FORMAT", None)
    python = (sys.executable, "-m")
    running = {
        "api": subprocess.Popen(
            [
                *(*python, "uvicorn", "--factory", "services.api.app:create_app"),
                *("--port", str(port), "--log-config", str(LOG_CONFIG)),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        ),
        "worker": subprocess.Popen(
            [
                *(*python, "arq", "services.worker.settings.WorkerSettings"),
                *("--custom-log-dict", "services.core.logs.LOGGING"),
            ],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        ),
    }
    try:
        wait_for_port(port, timeout=60)
        wait_for_port(metrics_port, timeout=60)
        yield base, metrics_port, running
    finally:
        for p in running.values():
            if p.poll() is None:
                p.terminate()
        for p in running.values():
            p.communicate(timeout=30)


def _lines(p: subprocess.Popen[str]) -> tuple[str, list[dict[str, Any]]]:
    """All a stopped process wrote on stderr, raw and parsed (one JSON object a line)."""
    p.terminate()
    _, raw = p.communicate(timeout=30)
    return raw, [json.loads(line) for line in raw.splitlines() if line.strip()]


async def _wait_mail(sink: Sink, n: int, within: float = 60) -> None:
    async with asyncio.timeout(within):
        while True:
            if len(sink.to(ADDRESS.lower())) >= n:
                return
            await asyncio.sleep(0.1)


async def _reader_flow(base: str, sink: Sink, settings: Settings) -> list[str]:
    """Subscribe, confirm, get the digest, leave; returns the tokens the mails carried."""
    async with httpx.AsyncClient(base_url=base) as reader:
        (await reader.get("/")).raise_for_status()
        subscribed = await reader.post(
            "/api/v1/subscriptions",
            json={"email": ADDRESS},
            headers={"X-CSRFToken": reader.cookies["csrftoken"], "X-Request-ID": "flow-sub-1"},
        )
        assert subscribed.status_code == 202 and subscribed.headers["x-request-id"] == "flow-sub-1"
        await _wait_mail(sink, 1)
        text, _ = bodies(sink.to(ADDRESS.lower())[0].message)
        (confirm_url,) = CONFIRM_LINK.findall(text)
        confirm_token = urlsplit(confirm_url).query.removeprefix("token=")
        assert (await reader.get(confirm_url)).status_code == 200
        done = await reader.post(
            "/subscribe/confirm",
            data={"token": confirm_token, "_csrf_token": reader.cookies["csrftoken"]},
        )
        assert done.status_code == 303

        assert settings.redis_url
        redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
        try:
            assert await redis.enqueue_job("issue_weekly_digest", WEEK) is not None
        finally:
            await redis.aclose()
        await _wait_mail(sink, 2)
        digest = sink.to(ADDRESS.lower())[1].message
        one_click = digest["List-Unsubscribe"].split(",")[0].strip(" <>")
        out = await reader.post(one_click, data={"List-Unsubscribe": "One-Click"})
        assert out.status_code == 200
    return [confirm_token, urlsplit(one_click).query.removeprefix("token=")]


async def test_the_logs_of_a_reader_flow(
    pool: Pool,
    settings: Settings,
    sink: Sink,
    processes: tuple[str, int, dict[str, subprocess.Popen[str]]],
) -> None:
    base, metrics_port, running = processes
    tokens = await _reader_flow(base, sink, settings)
    async with httpx.AsyncClient() as scraper:
        scraped = samples((await scraper.get(f"http://127.0.0.1:{metrics_port}/metrics")).text)
    # A job that just sent the digest may still be writing its line: idle from 1 s on.
    idle = (time.time() + 1, time.time() + IDLE)
    await asyncio.sleep(IDLE)
    api_raw, api = _lines(running["api"])
    worker_raw, worker = _lines(running["worker"])

    for raw in (api_raw, worker_raw):
        assert ADDRESS.lower() not in raw.lower() and "example.com" not in raw.lower()
        for token in tokens:
            assert token not in raw
    # The request id a caller chose is in the log and in the event it caused.
    stored = await pool.fetchval(
        "select metadata ->> 'request_id' from events where type = 'SubscriptionRequested'"
    )
    assert stored == "flow-sub-1"
    assert any(line.get("request_id") == "flow-sub-1" for line in api)
    assert all(line.get("request_id") for line in api if line["event"] == "request")
    # The worker: one line per job that did something, with its job id; no ticks.
    done = [line for line in worker if line.get("job_id")]
    assert {"confirmation mails", "digest issued"} <= {line["event"] for line in done}
    assert not [line for line in worker if "→" in line["event"] or "←" in line["event"]]
    ticks = [line for line in worker if idle[0] < _at(line) < idle[1]]
    assert not ticks, "an idle worker logs nothing"
    # The worker's own /metrics counted both mails.
    for kind in ("confirmation", "digest"):
        assert value(scraped, "verdicts_mails_total", kind=kind, outcome="sent") == 1


def _at(line: dict[str, Any]) -> float:
    return datetime.fromisoformat(line["timestamp"]).timestamp()
