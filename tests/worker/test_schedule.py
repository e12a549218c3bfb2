"""DIGEST_CRON: five-field cron syntax as arq's cron options, refused clearly when wrong."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.worker.schedule import InvalidScheduleError, Schedule


@pytest.mark.calendar
def test_default_schedule_is_monday_eight_utc() -> None:
    schedule = Schedule.parse("0 8 * * 1")
    assert schedule.arq_options()["weekday"] == {0} and schedule.arq_options()["hour"] == {8}
    fire = schedule.next_after(datetime(2026, 11, 23, 8, 0, 1, tzinfo=UTC))
    assert fire == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert Schedule.parse("*/15 6-8 * * 0,7").weekday == {6}


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("0 8 * *", "4 field"),
        ("0 25 * * 1", "hour field '25' outside 0-23"),
        ("x 8 * * 1", "not a number"),
        ("0 8 1 * 1", "not both"),
    ],
)
def test_bad_schedules_are_refused_clearly(expr: str, reason: str) -> None:
    with pytest.raises(InvalidScheduleError, match=reason):
        Schedule.parse(expr)
