"""`verdicts config check`, and commands that sign tokens refusing an unsafe SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.core.config import Settings
from services.core.store import Pool
from tests.fixtures import WEEK, Sink, confirmed

VERDICTS = [sys.executable, "-m", "services.cli"]
GOOD = "config-test-secret-of-at-least-32-bytes"


def verdicts(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command with ``env`` and none of our settings from the surroundings."""
    ours = ("SECRET_KEY", "VERDICTS_DEVELOPMENT", "TRUSTED_PROXIES", "DATABASE_URL", "REDIS_URL")
    base = {k: v for k, v in os.environ.items() if k not in ours}
    return subprocess.run(
        [*VERDICTS, *args], env=base | env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def test_config_check_says_what_keeps_the_api_and_worker_from_starting(tmp_path: Path) -> None:
    servers = {"DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://redis/0"}
    assert "SECRET_KEY is unset" in one_error_line(verdicts(tmp_path, "config", "check", **servers))
    short = verdicts(tmp_path, "config", "check", SECRET_KEY=f"{GOOD},old", **servers)
    assert "key 2 of 2 in SECRET_KEY is 3 bytes" in one_error_line(short)
    proxy = verdicts(tmp_path, "config", "check", SECRET_KEY=GOOD, TRUSTED_PROXIES="x", **servers)
    assert "TRUSTED_PROXIES: 'x'" in one_error_line(proxy)
    assert "DATABASE_URL" in one_error_line(verdicts(tmp_path, "config", "check", SECRET_KEY=GOOD))
    ok = verdicts(
        tmp_path, "config", "check", SECRET_KEY=f"{GOOD}2, {GOOD}1", TRUSTED_PROXIES="10.0.0.0/8",
        **servers,
    )  # fmt: skip
    assert ok.returncode == 0 and "2 signing key(s), trusted proxies: 10.0.0.0/8" in ok.stderr
    dev = verdicts(tmp_path, "config", "check", VERDICTS_DEVELOPMENT="1", **servers)
    assert dev.returncode == 0 and "(development)" in dev.stderr


async def test_digest_send_refuses_to_sign_with_the_development_key(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, tmp_path: Path
) -> None:
    await confirmed(pool, 3)
    assert settings.database_url and settings.smtp_url
    for key in ({}, {"SECRET_KEY": "too-short"}):
        done = verdicts(
            tmp_path, "digest", "send", "--week", WEEK,
            DATABASE_URL=settings.database_url, SMTP_URL=settings.smtp_url, **key,
        )  # fmt: skip
        assert "SECRET_KEY" in one_error_line(done)
    assert sink.count() == 0
    assert await pool.fetchval("select count(*) from digest_issues") == 0, "nothing issued"
