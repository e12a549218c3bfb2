"""Issuing the digest: once however often and however concurrently, with its recipients
frozen at issue; a week with nothing new issues nothing."""

from __future__ import annotations

import asyncio

import pytest

from services.core import digest_issues
from services.core.config import Settings
from services.core.digest_issues import IssueOutcome
from services.core.store import Pool
from services.core.subscriptions import confirm_subscription, request_subscription
from services.core.weeks import IsoWeek
from tests.fixtures import WEEK, confirmed

pytestmark = pytest.mark.calendar


async def test_issued_once_however_often_and_however_concurrently(
    pool: Pool, settings: Settings, catalog: None
) -> None:
    await confirmed(pool, 5)
    week = IsoWeek.parse(WEEK)
    results = await asyncio.gather(*(digest_issues.issue(pool, settings, week) for _ in range(6)))
    assert sorted(r.outcome for r in results) == [IssueOutcome.ALREADY_ISSUED] * 5 + [
        IssueOutcome.ISSUED
    ]
    assert {r.recipients for r in results} == {5} and {r.comparisons for r in results} == {2}
    events = await pool.fetch("select type from events where stream_id = $1", f"digest-{WEEK}")
    assert [e[0] for e in events] == ["DigestIssued"]

    late = await request_subscription(pool, "late@example.com")
    await confirm_subscription(pool, late)
    again = await digest_issues.issue(pool, settings, week)
    assert again.outcome is IssueOutcome.ALREADY_ISSUED
    assert await pool.fetchval("select count(*) from digest_recipients") == 5, "frozen at issue"


async def test_nothing_new_issues_nothing(pool: Pool, settings: Settings, catalog: None) -> None:
    await confirmed(pool, 2)
    result = await digest_issues.issue(pool, settings, IsoWeek.parse("2026-W44"))
    assert result.outcome is IssueOutcome.NOTHING_NEW
    assert await pool.fetchval("select count(*) from digest_issues") == 0
