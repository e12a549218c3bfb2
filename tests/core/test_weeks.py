"""ISO weeks: parsing, their bounds and the week before."""

from __future__ import annotations

import pytest

from services.core.errors import InvalidWeekError
from services.core.weeks import IsoWeek


@pytest.mark.parametrize(
    ("text", "week", "start"),
    [("2026-W47", (2026, 47), "2026-11-16"), ("2020-W53", (2020, 53), "2020-12-28")],
)
@pytest.mark.calendar
def test_weeks(text: str, week: tuple[int, int], start: str) -> None:
    parsed = IsoWeek.parse(text)
    assert tuple(parsed) == week and str(parsed) == text
    assert parsed.start.date().isoformat() == start
    assert IsoWeek.of(parsed.end).previous == parsed
    assert IsoWeek.last_complete(parsed.start) == parsed.previous


@pytest.mark.parametrize(
    "bad", ["2026-47", "2026-W54", "2026-W00", "2021-W53", "", "9999-W52", "0001-W01"]
)
def test_bad_weeks_say_how_to_write_one(bad: str) -> None:
    with pytest.raises(InvalidWeekError, match="write it like 2026-W47"):
        IsoWeek.parse(bad)
