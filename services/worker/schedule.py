"""``DIGEST_CRON`` (five-field cron syntax, UTC) as arq cron options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from arq.cron import next_cron

from services.core.errors import VerdictsError

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12), ("weekday", 0, 7))


class InvalidScheduleError(VerdictsError):
    def __init__(self, expr: str, reason: str) -> None:
        super().__init__(
            f"DIGEST_CRON {expr!r} is not a usable schedule: {reason}"
            " (five fields, minute hour day month weekday, e.g. '0 8 * * 1')"
        )
        self.expr = expr


def _field(expr: str, text: str, name: str, low: int, high: int) -> set[int] | None:
    if text == "*":
        return None
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if span == "*":
                first, last = low, high
            elif "-" in span:
                a, b = span.split("-", 1)
                first, last = int(a), int(b)
            else:
                first = last = int(span)
        except ValueError:
            reason = f"{name} field {text!r} is not a number, range or step"
            raise InvalidScheduleError(expr, reason) from None
        if not (low <= first <= last <= high) or step < 1:
            raise InvalidScheduleError(expr, f"{name} field {text!r} outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return values


@dataclass(frozen=True)
class Schedule:
    """A parsed cron expression; cron weekdays (0 or 7 = Sunday) become arq's (0 = Monday)."""

    expr: str
    minute: set[int] | None
    hour: set[int] | None
    day: set[int] | None
    month: set[int] | None
    weekday: set[int] | None

    @classmethod
    def parse(cls, expr: str) -> Schedule:
        parts = expr.split()
        if len(parts) != 5:
            raise InvalidScheduleError(expr, f"{len(parts)} field(s)")
        minute, hour, day, month, weekday = (
            _field(expr, text, name, low, high)
            for text, (name, low, high) in zip(parts, _FIELDS, strict=True)
        )
        if day is not None and weekday is not None:
            # cron ORs day-of-month and weekday; arq ANDs them. Refuse rather than differ.
            raise InvalidScheduleError(expr, "restrict the day of month or the weekday, not both")
        arq_weekday = None if weekday is None else {(d - 1) % 7 for d in weekday}
        return cls(expr, minute, hour, day, month, arq_weekday)

    def arq_options(self) -> dict[str, Any]:
        """Keyword arguments for ``arq.cron``."""
        return {
            "month": self.month,
            "day": self.day,
            "weekday": self.weekday,
            "hour": self.hour,
            "minute": self.minute,
            "second": 0,
            "microsecond": 0,
        }

    def next_after(self, moment: datetime) -> datetime:
        """The first fire time after ``moment`` (same timezone as ``moment``)."""
        fire: datetime = next_cron(moment, **self.arq_options())
        return fire
