"""`verdicts bounce ingest < message`: a relay's DSN about a digest it had accepted
goes the way of a 5xx at send time; delays, auto-replies and repeats record nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.fixtures import Sink, confirmed
from tests.worker.conftest import send_all

from .test_digest_commands import VERDICTS

pytestmark = pytest.mark.calendar

DSN = Path(__file__).parents[1] / "core" / "dsn"
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
WEEKS = ("2026-W45", "2026-W46", "2026-W47")


def ingest(settings: Settings, message: bytes) -> subprocess.CompletedProcess[str]:
    assert settings.database_url
    env = {**os.environ, "DATABASE_URL": settings.database_url, "MAIL_FROM": settings.mail_from}
    result = subprocess.run(
        [*VERDICTS, "bounce", "ingest"], env=env, input=message, capture_output=True, timeout=60
    )
    return subprocess.CompletedProcess(
        result.args, result.returncode, result.stdout.decode(), result.stderr.decode()
    )


def about(name: str, subscriber_id: str, week: str = "2026-W47") -> bytes:
    """A fixture DSN about the digest of ``week`` to ``subscriber_id``."""
    raw = (DSN / name).read_bytes()
    return raw.replace(PLACEHOLDER.encode(), subscriber_id.encode()).replace(
        b"digest-2026-W47-", f"digest-{week}-".encode()
    )


async def test_reported_bounces_count_like_smtp_ones(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    people = await confirmed(pool, 2)
    gone = people["reader0@example.com"]
    for week in WEEKS:
        await digest_issues.issue(pool, settings, IsoWeek.parse(week))
        await send_all(pool, settings, week)
    events = await pool.fetchval("select count(*) from events")

    delayed = ingest(settings, about("exim-delayed.eml", gone))
    assert delayed.returncode == 0 and "delayed (4.0.0)" in delayed.stderr
    auto_reply = ingest(settings, about("out-of-office.eml", gone))
    assert auto_reply.returncode == 0 and "ignored: not a delivery status" in auto_reply.stderr
    foreign = ingest(settings, about("postfix-permanent.eml", PLACEHOLDER))
    assert "not about a digest this system sent" in foreign.stderr
    assert await pool.fetchval("select count(*) from events") == events

    first = ingest(settings, about("postfix-permanent.eml", gone, WEEKS[0]))
    assert first.returncode == 0, first.stderr
    assert f"recorded: permanent failure 5.1.1 (550) of digest {WEEKS[0]}" in first.stderr
    again = ingest(settings, about("postfix-permanent.eml", gone, WEEKS[0]))
    assert again.returncode == 0 and "already recorded" in again.stderr
    ledger = await pool.fetchrow(
        "select status, code, deliveries, bounces from digest_deliveries"
        " where week = $1 and subscriber_id = $2",
        WEEKS[0],
        gone,
    )
    # The ledger keeps "delivered" (the relay took it) and counts the bounce.
    assert ledger is not None and tuple(ledger) == ("delivered", 550, 1, 1)
    bounced = await pool.fetch(
        "select metadata ->> 'actor' from events where type = 'DigestBounced'"
    )
    assert [r[0] for r in bounced] == ["dsn"]

    for week in WEEKS[1:]:
        result = ingest(settings, about("postfix-permanent.eml", gone, week))
        assert result.returncode == 0 and "recorded" in result.stderr
    assert "third bounce: unsubscribed" in result.stderr
    status = await pool.fetchrow(
        "select status, unsubscribe_reason, bounces from subscribers where subscriber_id = $1",
        gone,
    )
    assert status is not None and tuple(status) == ("unsubscribed", "bounce", 3)
    other = await pool.fetchval(
        "select status from subscribers where subscriber_id = $1", people["reader1@example.com"]
    )
    assert other == "confirmed"
