"""The production app factory under a real uvicorn on loopback, run the way an operator
runs it: it refuses an unsafe SECRET_KEY, a spoofed X-Forwarded-For buys no fresh rate
limit, a named proxy's does, and mail tokens never reach the access log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis

from services.core.config import DEV_SECRET
from services.core.db import connect
from services.embedded import free_port, wait_for_port

from .live import live_dsn

__all__ = ["live_dsn"]

FACTORY = [sys.executable, "-m", "uvicorn", "--factory", "services.api.app:create_app"]
SECRET = "uvicorn-test-secret-of-at-least-32-bytes"
SUBSCRIBE_LIMIT = 10  # Limits().subscriptions: the production default, per hour


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    """A Redis database of its own (the production namespace would carry counts over)."""
    parts = urlsplit(redis_url)
    url = urlunsplit(parts._replace(path="/9"))
    redis.Redis.from_url(url).flushdb()
    return url


def production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment with only ``values`` of ours: no SECRET_KEY, no development marker."""
    ours = ("SECRET_KEY", "VERDICTS_DEVELOPMENT", "TRUSTED_PROXIES", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return env | {"PUBLIC_URL": "http://127.0.0.1", **values}


@pytest.mark.parametrize(
    "secret_key",
    [None, DEV_SECRET, "short", f"{SECRET},an-old-key-too-short"],
    ids=["unset", "development-key", "short", "short-old-key"],
)
def test_the_api_refuses_to_start_with_an_unsafe_secret_key(
    tmp_path: Path, redis_url: str, secret_key: str | None
) -> None:
    keys = {"SECRET_KEY": secret_key} if secret_key else {}
    env = production_env(
        tmp_path, DATABASE_URL="postgresql://127.0.0.1:1/none", REDIS_URL=redis_url, **keys
    )
    done = subprocess.run(
        [*FACTORY, "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "SECRET_KEY" in line


@contextlib.contextmanager
def uvicorn(env: dict[str, str], cwd: Path, *flags: str) -> Iterator[tuple[str, Path]]:
    """The production factory under uvicorn (access log on); yields its URL and log file."""
    port = free_port()
    log_path = cwd / f"uvicorn-{port}.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*FACTORY, "--host", "127.0.0.1", "--port", str(port), *flags],
            env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_for_port(port, timeout=30)
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    assert "Traceback" not in log_path.read_text()


def subscribe_as(c: httpx.Client, n: int, forwarded_for: str) -> int:
    """One subscription request claiming to come through ``forwarded_for``."""
    r = c.post(
        "/api/v1/subscriptions",
        json={"email": f"flood{n}@example.com"},
        headers={"X-Forwarded-For": forwarded_for, "X-CSRFToken": c.cookies["csrftoken"]},
    )
    return r.status_code


async def requested(dsn: str) -> int:
    """Subscription requests recorded in the log."""
    conn = await connect(dsn)
    try:
        n: int = await conn.fetchval(
            "select count(*) from events where type = 'SubscriptionRequested'"
        )
        return n
    finally:
        await conn.close()


def spoofed_flood(env: dict[str, str], cwd: Path) -> list[int]:
    """60 subscription requests from loopback, each claiming another X-Forwarded-For."""
    with uvicorn(env, cwd) as (url, _), httpx.Client(base_url=url, timeout=10) as c:
        c.get("/").raise_for_status()
        return [subscribe_as(c, i, f"203.0.113.{i}") for i in range(60)]


async def test_spoofed_forwarded_for_from_loopback_buys_no_fresh_limit(
    live_dsn: str, fresh_redis: str, tmp_path: Path
) -> None:
    # uvicorn as it comes (its proxy headers on, trusting 127.0.0.1): the operator set
    # no TRUSTED_PROXIES, so nobody's X-Forwarded-For counts.
    env = production_env(tmp_path, DATABASE_URL=live_dsn, REDIS_URL=fresh_redis, SECRET_KEY=SECRET)
    before = await requested(live_dsn)
    answers = await asyncio.to_thread(spoofed_flood, env, tmp_path)
    assert answers.count(202) == SUBSCRIBE_LIMIT
    assert answers.count(429) == 60 - SUBSCRIBE_LIMIT
    recorded = await requested(live_dsn) - before
    assert recorded == SUBSCRIBE_LIMIT, "accepted = recorded, nothing more, nothing lost"


def test_a_named_proxy_forwards_its_clients_own_limits(
    live_dsn: str, fresh_redis: str, tmp_path: Path
) -> None:
    env = production_env(
        tmp_path,
        DATABASE_URL=live_dsn,
        REDIS_URL=fresh_redis,
        SECRET_KEY=SECRET,
        TRUSTED_PROXIES="127.0.0.1",
    )
    with (
        uvicorn(env, tmp_path, "--no-proxy-headers") as (url, _),
        httpx.Client(base_url=url, timeout=10) as c,
    ):
        c.get("/").raise_for_status()
        # The proxy appends the client it saw; whatever the client wrote before is its own.
        one_client = [
            subscribe_as(c, 100 + i, f"192.0.2.{i}, 198.51.100.7")
            for i in range(SUBSCRIBE_LIMIT + 1)
        ]
        another = subscribe_as(c, 200, "198.51.100.8")
    assert one_client == [202] * SUBSCRIBE_LIMIT + [429]
    assert another == 202


def test_mail_tokens_never_reach_the_access_log(
    live_dsn: str, fresh_redis: str, tmp_path: Path
) -> None:
    env = production_env(tmp_path, DATABASE_URL=live_dsn, REDIS_URL=fresh_redis, SECRET_KEY=SECRET)
    secrets = ["SeCrEt-confirm.token", "SeCrEt-unsubscribe.token", "SeCrEt-one-click.token"]
    with uvicorn(env, tmp_path) as (url, log), httpx.Client(base_url=url, timeout=10) as c:
        c.get(f"/subscribe/confirm?token={secrets[0]}")
        c.get(f"/unsubscribe?utm=x&token={secrets[1]}")
        c.post(f"/unsubscribe/one-click?token={secrets[2]}", content=b"List-Unsubscribe=One-Click")
    written = log.read_text()
    assert "SeCrEt" not in written
    # The access lines are the app's own (services/api/request_telemetry.py): the path
    # without its query; uvicorn's, which would print the query, are silenced.
    requests = [json.loads(line) for line in written.splitlines() if '"event":"request"' in line]
    assert [(r["method"], r["path"]) for r in requests] == [
        ("GET", "/subscribe/confirm"),
        ("GET", "/unsubscribe"),
        ("POST", "/unsubscribe/one-click"),
    ], written
