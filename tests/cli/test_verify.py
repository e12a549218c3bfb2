"""`verdicts verify` holds the ship % history to the log too, day by day."""

from __future__ import annotations

import uuid
from datetime import timedelta

from services.core import reader_actions
from services.core.store import Pool

from .test_main import run

CMP, TOOL = "claude-files-api-vs-azure-ai-foundry-voice-router", "claude-files-api"


async def test_verify_reports_each_day_that_drifted(pool: Pool, dsn: str, catalog: None) -> None:
    await reader_actions.cast_vote(pool, str(uuid.uuid4()), CMP, TOOL, "ship")
    clean = run(dsn, "verify")
    assert clean.returncode == 0, clean.stderr
    assert "every tally and every day of its history matches the log" in clean.stderr

    today = await pool.fetchval("select (now() at time zone 'UTC')::date")
    await pool.execute(
        "insert into counter_deltas (metric, subject, day, delta)"
        " values ('ship', $1, $2, -1), ('ship', $1, $2 - 1, 1)",
        f"{CMP}/{TOOL}",
        today,
    )
    drift = run(dsn, "verify")
    assert drift.returncode == 1, drift.stderr
    out = " ".join(drift.stderr.split())
    assert "2 day(s) of ship % history drifted from the log" in out
    assert "tally(ies) drifted" not in out, "the totals still match"
    for day, projected, logged in [
        (today - timedelta(days=1), "+1/+0", "+0/+0"),
        (today, "+0/+0", "+1/+0"),
    ]:
        assert f"{day.isoformat()} │ {projected} │ {logged}" in out, out
