"""Send queues in PostgreSQL: leased batches, per-message state, a reaper.

Both ``confirmation_mails`` and ``digest_recipients`` move through the same states
(see ``schema/0004_mail.sql``). A worker claims a small batch with
``FOR UPDATE SKIP LOCKED`` and a lease; it marks each row ``sending`` just before its
SMTP transaction, re-checking that the subscriber may still get it; the outcome then
settles the row. A worker that dies leaves leased rows behind: the reaper returns
``claimed`` ones to ``pending`` and turns ``sending`` ones into ``unknown``, since the
server may have accepted them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.core.metrics import count_mails
from services.core.store import Connection

Table = Literal["confirmation_mails", "digest_recipients"]
Started = Literal["sending", "skipped", "lost"]


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row leased for sending, with what is needed to compose its message."""

    id: int
    subscriber_id: str
    email: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Reaped:
    requeued: int
    unknown: int


@dataclass(frozen=True, slots=True)
class SendQueue:
    """State changes of one send queue; ``eligible`` is the subscriber status a row needs."""

    table: Table
    eligible: Literal["pending", "confirmed"]

    async def claim(
        self, conn: Connection, owner: str, limit: int, lease: float, *, week: str | None = None
    ) -> list[Claimed]:
        """Lease up to ``limit`` due rows (of ``week``, for the digest) that no one else
        holds. Rows whose subscriber may no longer get mail, or whose address was
        erased, are settled ``skipped`` here; the rest come back with their address.
        Run it inside a transaction."""
        args: list[object] = [owner, limit, lease]
        of_week = ""
        if week is not None:
            args.append(week)
            of_week = "and week = $4"
        rows = await conn.fetch(
            f"with due as (select id from {self.table}"
            f"   where state = 'pending' and next_attempt_at <= now() {of_week}"
            "   order by id limit $2 for update skip locked)"
            f" update {self.table} q set state = 'claimed', lease_owner = $1,"
            " lease_until = now() + make_interval(secs => $3), updated_at = now()"
            " from due where q.id = due.id"
            " returning q.id, q.subscriber_id::text, q.attempts",
            *args,
        )
        found = {
            r[0]: (r[1], r[2])
            for r in await conn.fetch(
                "select s.subscriber_id::text, s.status, e.email from subscribers s"
                " left join subscriber_emails e using (subscriber_id)"
                " where s.subscriber_id = any($1::uuid[])",
                [r[1] for r in rows],
            )
        }
        out = []
        for row_id, sid, attempts in rows:
            status, email = found.get(sid, (None, None))
            if status != self.eligible or email is None:
                await self.settle(conn, row_id, "skipped", detail=f"subscriber {status or 'gone'}")
                continue
            out.append(Claimed(row_id, sid, email, attempts))
        return out

    async def start(self, conn: Connection, row_id: int, owner: str, lease: float) -> Started:
        """``claimed`` -> ``sending`` if the lease is still ours and the subscriber still
        eligible (else ``skipped``); renews the lease. ``lost`` if the row is not ours."""
        state: str | None = await conn.fetchval(
            f"update {self.table} q set"
            " state = case when s.ok then 'sending' else 'skipped' end,"
            " detail = case when s.ok then null else 'no longer subscribed' end,"
            " lease_until = now() + make_interval(secs => $3), updated_at = now()"
            f" from (select r.id, exists(select 1 from subscribers s"
            "   where s.subscriber_id = r.subscriber_id and s.status = $4) as ok"
            f"   from {self.table} r where r.id = $1) s"
            " where q.id = s.id and q.lease_owner = $2 and q.state = 'claimed'"
            " returning q.state",
            row_id,
            owner,
            lease,
            self.eligible,
        )
        if state == "sending":
            return "sending"
        return "skipped" if state == "skipped" else "lost"

    async def settle(
        self,
        conn: Connection,
        row_id: int,
        state: str,
        *,
        code: int | None = None,
        detail: str | None = None,
    ) -> None:
        """A final state: sent, bounced, failed, unknown."""
        await conn.execute(
            f"update {self.table} set state = $2, code = $3, detail = $4,"
            " lease_owner = null, lease_until = null, updated_at = now() where id = $1",
            row_id,
            state,
            code,
            detail,
        )

    async def settle_unless_sent(
        self,
        conn: Connection,
        row_id: int,
        state: str,
        *,
        code: int | None,
        detail: str | None,
        version_of: str,
    ) -> int | None:
        """``settle`` a row unless it is ``sent`` already (by a sender that outlived its
        lease); a row the reaper marked ``unknown`` meanwhile is known now. Returns the
        version of the stream ``version_of``, read in the same statement (one round
        trip less per message), or ``None`` if the row was already sent."""
        version: int | None = await conn.fetchval(
            f"update {self.table} set state = $2, code = $3, detail = $4,"
            " lease_owner = null, lease_until = null, updated_at = now()"
            " where id = $1 and state <> 'sent'"
            " returning (select coalesce(max(stream_version), 0) from events"
            "   where stream_id = $5)",
            row_id,
            state,
            code,
            detail,
            version_of,
        )
        return version

    async def retry(
        self,
        conn: Connection,
        row_id: int,
        *,
        delay: float,
        counted: bool,
        code: int | None,
        detail: str,
    ) -> None:
        """Back to ``pending`` after ``delay`` seconds; ``counted`` attempts add up to a
        give-up, connection trouble does not."""
        await conn.execute(
            f"update {self.table} set state = 'pending', attempts = attempts + $3::int,"
            " next_attempt_at = now() + make_interval(secs => $2), code = $4, detail = $5,"
            " lease_owner = null, lease_until = null, updated_at = now() where id = $1",
            row_id,
            delay,
            int(counted),
            code,
            detail,
        )

    async def release(
        self, conn: Connection, row_ids: Sequence[int], owner: str, *, delay: float = 0.0
    ) -> None:
        """Give back claimed rows we will not send now (shutdown, SMTP down); rows
        already ``sending`` are left for their outcome or the reaper."""
        await conn.execute(
            f"update {self.table} set state = 'pending', lease_owner = null,"
            " lease_until = null, next_attempt_at = now() + make_interval(secs => $3),"
            " updated_at = now()"
            " where id = any($1::bigint[]) and lease_owner = $2 and state = 'claimed'",
            list(row_ids),
            owner,
            delay,
        )

    async def requeue(self, conn: Connection, row_ids: Sequence[int], *, detail: str) -> None:
        """Back to ``pending``, due now: rows an operator wants sent again."""
        await conn.execute(
            f"update {self.table} set state = 'pending', next_attempt_at = now(),"
            " lease_owner = null, lease_until = null, detail = $2, updated_at = now()"
            " where id = any($1::bigint[])",
            list(row_ids),
            detail,
        )

    async def reap(self, conn: Connection) -> Reaped:
        """Expired leases: ``claimed`` rows go back to ``pending``; ``sending`` rows
        become ``unknown`` (their SMTP transaction may have completed)."""
        row = await conn.fetchrow(
            f"with expired as (select id, state from {self.table}"
            "   where state in ('claimed', 'sending') and lease_until < now()"
            "   for update skip locked),"
            f" done as (update {self.table} q set"
            "   state = case when e.state = 'claimed' then 'pending' else 'unknown' end,"
            "   detail = case when e.state = 'claimed' then q.detail"
            "     else 'sender stopped during the SMTP transaction; may have been delivered' end,"
            "   lease_owner = null, lease_until = null, updated_at = now()"
            "  from expired e where q.id = e.id returning e.state)"
            " select count(*) filter (where state = 'claimed')::int,"
            " count(*) filter (where state = 'sending')::int from done"
        )
        assert row is not None  # an aggregate always returns its row
        count_mails(self.table, "unknown", row[1])
        return Reaped(requeued=row[0], unknown=row[1])
