"""The arq jobs as a real worker runs them: an operator's issue goes out whichever job
runs first, and the cron catch-up issues the week that is due by the clock it is given."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.core.clock import fixed_clock
from services.core.config import Settings
from services.core.store import Pool
from tests.conftest import NOW

from .conftest import WEEK, Sink, assert_once_each, confirmed, outcome, run_jobs

pytestmark = pytest.mark.calendar

LATER = fixed_clock(NOW + timedelta(days=14))
"""Two weeks on: the demo's weeks are long past due, and the due week published nothing."""


async def test_an_issue_is_sent_whichever_job_runs_first(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    await confirmed(pool, 3)
    # A delivery pass that lists the open weeks before the issue commits sees none:
    # the issuing job must send the week itself.
    await run_jobs(
        settings,
        pool,
        ("deliver_digests", ()),
        ("issue_weekly_digest", ("2026-W46",)),
        clock=LATER,
    )
    earlier = await outcome(pool, sink, "2026-W46")
    assert len(earlier) == 3
    assert_once_each(earlier)

    # Both at once, in whatever order arq finishes them: each reader gets it once.
    await run_jobs(
        settings,
        pool,
        ("issue_weekly_digest", (WEEK,)),
        ("deliver_digests", ()),
        together=True,
        clock=LATER,
    )
    result = await outcome(pool, sink, WEEK)
    assert len(result) == 3
    assert_once_each(result)


async def test_the_cron_catch_up_issues_the_due_week_by_its_clock(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    await confirmed(pool, 2)
    # The suite's clock stands on Tuesday of 2026-W48: W47's digest was due Monday 08:00.
    await run_jobs(settings, pool, ("deliver_digests", ()))
    result = await outcome(pool, sink, WEEK)
    assert len(result) == 2
    assert_once_each(result)

    # A week on, the due week published nothing: nothing more is issued or sent.
    before = sink.count()
    await run_jobs(settings, pool, ("deliver_digests", ()), clock=LATER)
    assert sink.count() == before
    assert await pool.fetchval("select count(*) from digest_issues") == 1
