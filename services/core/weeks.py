"""ISO weeks (``2026-W47``): what a digest is issued for."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

from .errors import InvalidWeekError

_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
_DASH = "\N{EN DASH}"


class IsoWeek(NamedTuple):
    """One ISO 8601 week, Monday 00:00 UTC to the next Monday."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """``2026-W47`` -> IsoWeek; ``InvalidWeekError`` for anything else."""
        match = _PATTERN.match(text.strip())
        if not match:
            raise InvalidWeekError(text, "expected YYYY-Www")
        year, week = int(match[1]), int(match[2])
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise InvalidWeekError(text, str(exc)) from None
        # A week's end and the week before it must be dates too: 9999-W52 ends in year
        # 10000 and 0001-W01 follows year 0, and Python has neither.
        if not date.min < monday <= date.max - timedelta(days=7):
            raise InvalidWeekError(text, "outside the weeks of years 1 to 9999")
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime) -> IsoWeek:
        """The week ``moment`` (timezone-aware) falls in, in UTC."""
        year, week, _ = moment.astimezone(UTC).isocalendar()
        return cls(year, week)

    @classmethod
    def last_complete(cls, now: datetime) -> IsoWeek:
        """The most recent week that has ended by ``now``."""
        return cls.of(now).previous

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        monday = date.fromisocalendar(self.year, self.week, 1)
        return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=7)

    @property
    def previous(self) -> IsoWeek:
        return IsoWeek.of(self.start - timedelta(days=1))

    @property
    def label(self) -> str:
        """Human dates, e.g. ``16\N{EN DASH}22 Nov 2026``."""
        first, last = self.start, self.end - timedelta(days=1)
        if first.month == last.month:
            return f"{first.day}{_DASH}{last.day} {last:%b %Y}"
        if first.year == last.year:
            return f"{first.day} {first:%b} {_DASH} {last.day} {last:%b %Y}"
        return f"{first.day} {first:%b %Y} {_DASH} {last.day} {last:%b %Y}"
