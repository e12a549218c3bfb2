"""Time as an input: every "now" the application asks for comes from a ``Clock``.

Which ISO week a digest covers, the days a ship % history shows and when a token
expires all depend on the date. Code that needs it takes a clock; production passes
``system_clock``, tests pass ``fixed_clock(...)``, so no test depends on today's date.

The database stamps what it stores with its own ``now()`` (``events.recorded_at``,
mail leases): that is the time the log records, not a question the code asks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    """The machine's time, in UTC."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock that always says ``at`` (which must be timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError(f"a clock's time needs a zone: {at.isoformat()}")
    return lambda: at
