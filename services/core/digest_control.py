"""An operator's hand on a week's send: pause, resume, cancel.

Each appends its event to ``digest-<week>`` (``DigestPaused``, ``DigestResumed``,
``DigestCancelled``) and sets the issue's state (``digest_issues.paused_at`` /
``cancelled_at``) in the same transaction, under the issue's row lock, which the
completing sender takes too. Senders look at that state before every message
(``DigestMails.halted``), so a pause or a cancel stops them at their next message;
the message in flight finishes and is recorded.

A paused week sends nothing until resumed. A cancelled week settles its unsent
recipients as ``cancelled`` and completes (``DigestCompleted.cancelled`` counts them)
as soon as no message is in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import asyncpg

from .digest_issues import complete_locked
from .errors import VerdictsError
from .events import DigestCancelled, DigestPaused, DigestResumed, Event
from .store import Connection, Metadata, Pool
from .streams import DIGEST
from .weeks import IsoWeek
from .writes import append_at_current_version, run_write

ACTOR = "operator"


class DigestNotIssuedError(VerdictsError):
    def __init__(self, week: IsoWeek) -> None:
        super().__init__(f"digest {week} has not been issued: there is no send to control")
        self.week = week


class DigestStoppedError(VerdictsError):
    """The week is over (completed or cancelled): it cannot be held or resumed."""

    def __init__(self, week: IsoWeek, how: str) -> None:
        super().__init__(f"digest {week} is {how}: there is no send left to control")
        self.week = week


class Control(StrEnum):
    PAUSED = "paused"
    ALREADY_PAUSED = "already_paused"
    RESUMED = "resumed"
    NOT_PAUSED = "not_paused"
    CANCELLED = "cancelled"
    ALREADY_CANCELLED = "already_cancelled"


@dataclass(frozen=True, slots=True)
class ControlResult:
    week: IsoWeek
    outcome: Control
    cancelled: int = 0
    """Recipients settled as cancelled by this call."""
    completed: bool = False
    """Whether the week is complete now."""


async def _issue(conn: Connection, week: IsoWeek) -> asyncpg.Record:
    row = await conn.fetchrow(
        "select completed_at, paused_at, cancelled_at from digest_issues"
        " where week = $1 for update",
        str(week),
    )
    if row is None:
        raise DigestNotIssuedError(week)
    return row


async def _record(conn: Connection, week: IsoWeek, event: Event) -> None:
    await append_at_current_version(
        conn, DIGEST.name(str(week)), [event], metadata=Metadata(actor=ACTOR)
    )


async def pause(pool: Pool, week: IsoWeek) -> ControlResult:
    """Hold ``week``'s send: senders stop before their next message."""

    async def hold(conn: Connection) -> ControlResult:
        issue = await _issue(conn, week)
        if issue["cancelled_at"] is not None:
            raise DigestStoppedError(week, "cancelled")
        if issue["completed_at"] is not None:
            raise DigestStoppedError(week, "completed")
        if issue["paused_at"] is not None:
            return ControlResult(week, Control.ALREADY_PAUSED)
        await _record(conn, week, DigestPaused(week=str(week)))
        await conn.execute("update digest_issues set paused_at = now() where week = $1", str(week))
        return ControlResult(week, Control.PAUSED)

    return await run_write(pool, hold)


async def resume(pool: Pool, week: IsoWeek) -> ControlResult:
    """Let ``week``'s send go on; the worker's next delivery pass picks it up."""

    async def release(conn: Connection) -> ControlResult:
        issue = await _issue(conn, week)
        if issue["cancelled_at"] is not None:
            raise DigestStoppedError(week, "cancelled")
        if issue["paused_at"] is None:
            return ControlResult(week, Control.NOT_PAUSED, completed=bool(issue["completed_at"]))
        await _record(conn, week, DigestResumed(week=str(week)))
        await conn.execute("update digest_issues set paused_at = null where week = $1", str(week))
        return ControlResult(week, Control.RESUMED, completed=bool(issue["completed_at"]))

    return await run_write(pool, release)


async def cancel(pool: Pool, week: IsoWeek) -> ControlResult:
    """Stop ``week`` for good: the recipients not sent to yet settle as ``cancelled``."""

    async def stop(conn: Connection) -> ControlResult:
        issue = await _issue(conn, week)
        if issue["cancelled_at"] is not None:
            return ControlResult(week, Control.ALREADY_CANCELLED, completed=True)
        if issue["completed_at"] is not None:
            raise DigestStoppedError(week, "completed")
        # Claimed rows too: their sender sees the cancel before it starts them.
        settled = await conn.execute(
            "update digest_recipients set state = 'cancelled', detail = 'cancelled by an"
            " operator', lease_owner = null, lease_until = null, updated_at = now()"
            " where week = $1 and state in ('pending', 'claimed')",
            str(week),
        )
        cancelled = int(settled.rsplit(" ", 1)[1])
        await _record(conn, week, DigestCancelled(week=str(week), cancelled=cancelled))
        await conn.execute(
            "update digest_issues set cancelled_at = now(), paused_at = null where week = $1",
            str(week),
        )
        # A message still in flight completes the week when its sender records it.
        completed = await complete_locked(conn, week)
        return ControlResult(week, Control.CANCELLED, cancelled, completed)

    return await run_write(pool, stop)


async def halted(conn: Connection, week: IsoWeek) -> bool:
    """Whether an operator holds or stopped ``week``: a sender must not start a message."""
    held: bool | None = await conn.fetchval(
        "select paused_at is not null or cancelled_at is not null from digest_issues"
        " where week = $1",
        str(week),
    )
    return bool(held)
