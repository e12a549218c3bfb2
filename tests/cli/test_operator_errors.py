"""Every operator error is one line on stderr and exit code 2, never a traceback: each
case run as a real process, as an operator would meet it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from services.core.config import Settings
from services.core.store import Pool
from services.embedded import free_port
from tests.conftest import with_database
from tests.fixtures import WEEK, Sink, confirmed

VERDICTS = [sys.executable, "-m", "services.cli"]
ARQ_CHECK = [str(Path(sys.executable).parent / "arq"), "--check"]
WORKER = "services.worker.settings.WorkerSettings"

# Settings a test names itself: none may leak in from the shell that runs the suite.
SETTINGS = ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "PUBLIC_URL", "VERDICTS_DEVELOPMENT")
SECRET_KEY = "operator-errors-secret-of-at-least-32-bytes"
"""A usable key, so that each case meets the error it is about, not the key's."""


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    return subprocess.run(
        args,
        env={**clean, "SECRET_KEY": SECRET_KEY, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(
    result: subprocess.CompletedProcess[str], *needles: str, after_log: bool = False
) -> str:
    """The error line of ``result``, checked: exit 2, one line, no traceback (with
    ``after_log``, the last line after the log of a worker that had started)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and (after_log or len(lines) == 1), (
        result.returncode,
        result.stderr,
    )
    assert lines[-1].startswith("error: "), lines
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    return lines[-1]


def refused_url() -> str:
    return f"postgresql://verdicts:s3cret@127.0.0.1:{free_port()}/verdicts"


def as_user(dsn: str, user: str, password: str) -> str:
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


@pytest.mark.parametrize(
    ("make_url", "needles"),
    [
        (lambda admin: refused_url(), ("the database is unavailable", "Connect call failed")),
        (lambda admin: "not a url", ("cannot connect to the database", "not a PostgreSQL URL")),
        (
            lambda admin: with_database(admin, "no_such_database"),
            ("cannot connect to the database", "does not exist: create it first"),
        ),
        (
            lambda admin: as_user(admin, "nobody", "s3cret"),
            ("cannot connect to the database", 'role "nobody" does not exist'),
        ),
    ],
    ids=["refused", "not-a-url", "missing-database", "unknown-role"],
)
def test_a_bad_database_url(
    pg_admin_dsn: str, tmp_path: Path, make_url: Callable[[str], str], needles: tuple[str, ...]
) -> None:
    url = make_url(pg_admin_dsn)
    for command in (["verify"], ["migrate"], ["digest", "status", "--week", WEEK]):
        line = one_line_error(run([*VERDICTS, *command], tmp_path, DATABASE_URL=url), *needles)
        assert "s3cret" not in line, "the password stays out of the message"


def test_an_unset_database_url(tmp_path: Path) -> None:
    one_line_error(run([*VERDICTS, "verify"], tmp_path), "DATABASE_URL is not set")


@pytest.mark.parametrize(
    ("smtp_url", "needle"),
    [
        ({"SMTP_URL": "http://mail.example:25"}, "SMTP_URL scheme must be one of"),
        ({"SMTP_URL": "smtp://mail.example:notaport"}, "SMTP_URL is not usable"),
        ({}, "SMTP_URL is not set"),
    ],
    ids=["bad-scheme", "bad-port", "unset"],
)
async def test_sending_without_a_usable_smtp_url_issues_nothing(
    pool: Pool,
    settings: Settings,
    catalog: None,
    tmp_path: Path,
    smtp_url: dict[str, str],
    needle: str,
) -> None:
    await confirmed(pool, 2)
    assert settings.database_url
    result = run(
        [*VERDICTS, "digest", "send", "--week", WEEK],
        tmp_path,
        DATABASE_URL=settings.database_url,
        **smtp_url,
    )
    one_line_error(result, needle)
    issued = await pool.fetchval("select count(*) from events where stream_id like 'digest-%'")
    assert issued == 0, "checked before issuing: nothing waits for a mail server that isn't"


def test_arq_check_with_redis_down(tmp_path: Path) -> None:
    result = run([*ARQ_CHECK, WORKER], tmp_path, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    one_line_error(result, "cannot connect to Redis")


def test_arq_check_answers_with_redis_up(redis_url: str, tmp_path: Path) -> None:
    """No worker has reported in on a fresh queue: unhealthy (1), not an error (2)."""
    result = run([*ARQ_CHECK, WORKER], tmp_path, REDIS_URL=redis_url)
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr


async def test_the_worker_will_not_start_without_smtp(
    settings: Settings, sink: Sink, tmp_path: Path
) -> None:
    assert settings.database_url and settings.redis_url
    worker = [str(Path(sys.executable).parent / "arq"), WORKER]
    result = run(worker, tmp_path, DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url)
    one_line_error(result, "SMTP_URL is not set", after_log=True)


def test_previewing_an_empty_week(settings: Settings, catalog: None, tmp_path: Path) -> None:
    assert settings.database_url
    result = run(
        [*VERDICTS, "digest", "preview", "--week", "2026-W40", "--out", str(tmp_path)],
        tmp_path,
        DATABASE_URL=settings.database_url,
    )
    one_line_error(result, "nothing published in 2026-W40")
    assert not list(tmp_path.iterdir()), "no files written"


async def test_the_tally_of_an_unknown_comparison(dsn: str, catalog: None, tmp_path: Path) -> None:
    result = run([*VERDICTS, "tally", "no-such-comparison"], tmp_path, DATABASE_URL=dsn)
    one_line_error(result, "no comparison 'no-such-comparison'")
    assert result.stdout == "", "no empty table"


async def test_the_tally_of_a_comparison_without_votes(
    dsn: str, catalog: None, tmp_path: Path
) -> None:
    cmp = "claude-files-api-vs-azure-ai-foundry-voice-router"
    result = run([*VERDICTS, "tally", cmp], tmp_path, DATABASE_URL=dsn)
    assert result.returncode == 0, result.stderr
    assert "claude-files-api" in result.stdout and "azure-ai-foundry-voice-router" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["digest", "send", "--week", "2026-W60"], {}, "not an ISO week"),
        (["tally"], {}, "Missing argument"),
        (["catalog", "import"], {}, "give either a catalog FILE or --demo"),
        (["verify"], {"PORT": "eighty"}, "configuration error"),
    ],
    ids=["bad-week", "missing-argument", "no-catalog", "bad-setting"],
)
def test_usage_and_setting_errors(
    dsn: str, tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    one_line_error(run([*VERDICTS, *args], tmp_path, DATABASE_URL=dsn, **env), needle)


def test_a_group_alone_shows_its_help_not_an_error(tmp_path: Path) -> None:
    for group in ([], ["digest"]):
        result = run([*VERDICTS, *group], tmp_path)
        assert "Usage: " in result.stderr and "error:" not in result.stderr
        assert "Commands:" in result.stderr and "Traceback" not in result.stderr
