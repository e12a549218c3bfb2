"""`verdicts digest preview | send | status`, run as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from services.cli.digest_commands import chosen_week, digest_group
from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.fixtures import WEEK, Sink, confirmed

pytestmark = pytest.mark.calendar

VERDICTS = [sys.executable, "-m", "services.cli"]


def run(
    settings: Settings, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    assert settings.database_url and settings.smtp_url
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SMTP_URL": settings.smtp_url,
        "SECRET_KEY": settings.secret_key,
        "PUBLIC_URL": settings.public_url,
        "MAIL_FROM": settings.mail_from,
        "MAIL_RETRY_SECONDS": "0.05",
    }
    return subprocess.run(
        [*VERDICTS, *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd
    )


async def test_preview_send_status(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, tmp_path: Path
) -> None:
    await confirmed(pool, 5)
    shown = run(settings, "digest", "preview", "--week", WEEK, "--out", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    html = (tmp_path / f"digest-{WEEK}.html").read_text()
    text = (tmp_path / f"digest-{WEEK}.txt").read_text()
    assert "Prompt Caching" in html and "Prompt Caching" in text
    assert "https://verdicts.test/unsubscribe?token=preview" in text
    assert sink.count() == 0, "a preview sends nothing"

    sent = run(settings, "digest", "send", "--week", WEEK)
    assert sent.returncode == 0, sent.stderr
    assert "issued: 2 comparison(s), 5 recipient(s)" in sent.stderr
    assert sink.count() == 5

    again = run(settings, "digest", "send", "--week", WEEK)
    assert again.returncode == 0, again.stderr
    assert "already issued" in again.stderr and "sent 0 now" in again.stderr
    assert sink.count() == 5

    status = run(settings, "digest", "status", "--week", WEEK, "--json")
    assert status.returncode == 0, status.stderr
    s = json.loads(status.stdout)
    assert s["recipients"] == 5 and s["states"] == {"sent": 5} and s["delivered"] == 5
    table = run(settings, "digest", "status", "--week", WEEK)
    assert table.returncode == 0 and "sent" in table.stdout and WEEK in table.stdout


def test_bad_week_is_one_line(settings: Settings) -> None:
    result = run(settings, "digest", "send", "--week", "2026-W60")
    assert result.returncode == 2
    assert "not an ISO week" in result.stderr and "Traceback" not in result.stderr


async def test_a_week_with_nothing_new_sends_nothing(
    pool: Pool, settings: Settings, sink: Sink, catalog: None, tmp_path: Path
) -> None:
    await confirmed(pool, 2)
    result = run(settings, "digest", "send", "--week", "2026-W40")
    assert result.returncode == 0 and "nothing published in 2026-W40" in result.stderr
    assert sink.count() == 0
    assert await pool.fetchval("select count(*) from events where stream_id like 'digest-%'") == 0
    shown = run(settings, "digest", "preview", "--week", "2026-W40", "--out", str(tmp_path))
    assert shown.returncode == 2 and not await asyncio.to_thread(os.listdir, tmp_path)


def test_every_week_option_has_the_one_default() -> None:
    """Every digest command that takes --week (those added later too) says the same
    default: the last complete week, the one the scheduled digest covers."""
    helps = {
        name: param.help
        for name, command in digest_group.commands.items()
        for param in command.params
        if param.name == "week" and isinstance(param, click.Option)
    }
    assert {"preview", "test", "send", "status"} <= helps.keys()
    assert all(h and "default: the last complete week" in h for h in helps.values()), helps
    assert chosen_week(IsoWeek.parse(WEEK)) == IsoWeek.parse(WEEK)


async def test_a_test_message_goes_to_one_address_and_is_recorded_nowhere(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    await confirmed(pool, 2)
    events = await pool.fetchval("select count(*) from events")
    result = run(settings, "digest", "test", "--to", "Editor@Example.com", "--week", WEEK)
    assert result.returncode == 0, result.stderr
    assert "sent a test of 2026-W47 to editor@example.com" in result.stderr
    assert [r.rcpt for r in sink.received] == ["editor@example.com"]
    message = sink.received[0].message
    assert message["Subject"].startswith("[TEST] Weekly AI Tool Verdicts")
    assert message["X-Verdicts-Test"].startswith("yes")
    assert message["Message-ID"].startswith("<digest-test-2026-W47-")
    assert "Prompt Caching" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert await pool.fetchval("select count(*) from events") == events
    assert await pool.fetchval("select count(*) from digest_recipients") == 0
    assert await pool.fetchval("select count(*) from digest_issues") == 0

    sink.refuse["nobody@example.com"] = "550 5.1.1 no such mailbox"
    refused = run(settings, "digest", "test", "--to", "nobody@example.com", "--week", WEEK)
    assert refused.returncode == 2 and "550" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    bad = run(settings, "digest", "test", "--to", "not-an-address", "--week", WEEK)
    assert bad.returncode == 2 and "not a usable email address" in bad.stderr
    empty = run(settings, "digest", "test", "--to", "editor@example.com", "--week", "2026-W40")
    assert empty.returncode == 2 and "nothing published in 2026-W40" in empty.stderr
    assert len(sink.received) == 1


async def test_pause_resume_and_cancel_from_the_shell(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    await confirmed(pool, 3)
    not_issued = run(settings, "digest", "pause", WEEK)
    assert not_issued.returncode == 2 and "has not been issued" in not_issued.stderr
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))

    paused = run(settings, "digest", "pause", WEEK)
    assert paused.returncode == 0 and f"paused {WEEK}" in paused.stderr, paused.stderr
    assert "already paused" in run(settings, "digest", "pause", WEEK).stderr
    held = run(settings, "digest", "send", "--week", WEEK)
    assert held.returncode == 1 and "is paused" in held.stderr
    assert sink.count() == 0
    status = json.loads(run(settings, "digest", "status", "--week", WEEK, "--json").stdout)
    assert status["paused_at"] and status["states"] == {"pending": 3}

    resumed = run(settings, "digest", "resume", WEEK)
    assert resumed.returncode == 0 and f"resumed {WEEK}" in resumed.stderr
    assert "was not paused" in run(settings, "digest", "resume", WEEK).stderr

    cancelled = run(settings, "digest", "cancel", WEEK)
    assert cancelled.returncode == 0, cancelled.stderr
    assert "3 recipient(s) will not get it; completed" in cancelled.stderr
    assert run(settings, "digest", "send", "--week", WEEK).returncode == 0
    assert sink.count() == 0
    table = run(settings, "digest", "status", "--week", WEEK)
    assert "cancelled" in table.stderr and "cancelled" in table.stdout
    over = run(settings, "digest", "pause", WEEK)
    assert over.returncode == 2 and "is cancelled" in over.stderr
    bad = run(settings, "digest", "cancel", "2026-W99")
    assert bad.returncode == 2 and "not an ISO week" in bad.stderr
