"""Settling digest rows left ``unknown``, once an operator knows what became of them.

A row is ``unknown`` when its message and final dot were sent and no reply came, or
its sender died mid-transaction: the server may have accepted it, so it is never
re-sent on its own. The relay's log says which it was, and the operator says it here:

- ``delivered``: the row becomes ``sent`` and ``DigestDelivered`` is appended, with the
  message's ``Message-ID``, so the ledger counts the delivery like any other;
- ``resend``: the row goes back to ``pending`` and the next ``verdicts digest send``
  sends it. Its ``Message-ID`` is the first copy's, so a copy that had arrived after all
  is recognisably the same message (the ledger, which counts only deliveries the server
  confirmed, cannot know of it).
"""

from __future__ import annotations

from typing import Literal

from services.core.config import Settings
from services.core.errors import VerdictsError
from services.core.events import DigestDelivered
from services.core.store import Connection, Pool
from services.core.streams import SUBSCRIBER
from services.core.subscriptions import record_digest_outcome
from services.core.weeks import IsoWeek
from services.core.writes import run_write

from .digest_delivery import RECIPIENTS, message_id
from .mime import mail_domain

Resolution = Literal["delivered", "resend"]


class NotUnknownError(VerdictsError):
    """The subscriber's row of that week is not ``unknown``: nothing to settle."""

    def __init__(self, week: IsoWeek, subscriber_id: str, state: str | None) -> None:
        where = f"is {state!r}, not 'unknown'" if state else "does not exist"
        super().__init__(f"the {week} digest row of subscriber {subscriber_id} {where}")
        self.state = state


async def resolve_unknown(
    pool: Pool,
    settings: Settings,
    week: IsoWeek,
    resolution: Resolution,
    *,
    subscriber_id: str | None = None,
) -> list[str]:
    """Settle ``week``'s ``unknown`` rows (only ``subscriber_id``'s, if given) as
    ``resolution`` says, in one transaction; returns the subscriber ids settled."""
    domain = mail_domain(settings.mail_from)

    async def settle(conn: Connection) -> list[str]:
        rows = await conn.fetch(
            "select id, subscriber_id::text from digest_recipients"
            " where week = $1 and state = 'unknown' and ($2::uuid is null or subscriber_id = $2)"
            " order by id for update",
            str(week),
            subscriber_id,
        )
        if subscriber_id is not None and not rows:
            state = await conn.fetchval(
                "select state from digest_recipients where week = $1 and subscriber_id = $2",
                str(week),
                subscriber_id,
            )
            raise NotUnknownError(week, subscriber_id, state)
        if resolution == "resend":
            await RECIPIENTS.requeue(conn, [r[0] for r in rows], detail="operator: resend")
        else:
            for row_id, sid in rows:
                await _delivered(conn, week, row_id, sid, domain)
        return [sid for _, sid in rows]

    return await run_write(pool, settle)


async def _delivered(conn: Connection, week: IsoWeek, row_id: int, sid: str, domain: str) -> None:
    version = await RECIPIENTS.settle_unless_sent(
        conn,
        row_id,
        "sent",
        code=None,
        detail="operator: delivered",
        version_of=SUBSCRIBER.name(sid),
    )
    assert version is not None  # the row is locked and unknown, so not sent
    event = DigestDelivered(week=str(week), message_id=message_id(week, sid, domain))
    await record_digest_outcome(conn, sid, event, expected_version=version)
