"""Times and weeks outside what Python holds: one line and exit code 2, no traceback."""

from __future__ import annotations

import pytest

from services.core.config import Settings
from services.core.store import Pool

from .test_digest_commands import run as run_digest
from .test_main import run

CMP = "claude-files-api-vs-azure-ai-foundry-voice-router"


@pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
async def test_tally_as_of_out_of_range(pool: Pool, dsn: str, as_of: str) -> None:
    done = run(dsn, "tally", CMP, "--as-of", as_of)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "outside years 1 to 9999" in lines[0]


@pytest.mark.calendar
@pytest.mark.parametrize("week", ["9999-W52", "0001-W01"])
async def test_digest_preview_of_a_week_out_of_range(
    pool: Pool, settings: Settings, week: str
) -> None:
    done = run_digest(settings, "digest", "preview", "--week", week)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "outside the weeks of years 1 to 9999" in done.stderr
