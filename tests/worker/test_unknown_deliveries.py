"""`verdicts digest resolve WEEK --delivered|--resend [--subscriber WHO]`, on rows a
real send left ``unknown``: a server that got the message (or lost it) and never
answered. --delivered records the delivery in the log and the ledger; --resend has the
next send deliver it; nobody else is touched and nobody is served twice."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from services.embedded import free_port
from tests.outages import process_env

from .conftest import WEEK, Sink, confirmed, send_all


class Unanswering(Controller):
    """A real SMTP server that takes ``kept`` recipients' messages in and loses
    ``lost`` ones', and answers neither after the final dot; the rest it accepts."""

    def __init__(self, kept: set[str], lost: set[str]) -> None:
        self.kept, self.lost = kept, lost
        self.received: list[str] = []
        super().__init__(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        rcpt = str(envelope.rcpt_tos[0])
        if rcpt not in self.lost:
            self.received.append(rcpt)
        if rcpt in self.kept | self.lost:
            await asyncio.sleep(3)  # the client gives up after 1 s
        return "250 OK"


def serve(kept: set[str], lost: set[str]) -> Iterator[Unanswering]:
    server = Unanswering(kept, lost)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def verdicts(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=process_env(settings), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


async def rows(pool: Pool) -> dict[str, tuple[str, int]]:
    """Per address: (queue state, ledger deliveries)."""
    found = await pool.fetch(
        "select e.email, r.state, coalesce(d.deliveries, 0) from digest_recipients r"
        " join subscriber_emails e using (subscriber_id)"
        " left join digest_deliveries d using (week, subscriber_id) where r.week = $1",
        WEEK,
    )
    return {r[0]: (r[1], r[2]) for r in found}


async def test_resolve_unknown_rows_delivered_and_resend(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    people = await confirmed(pool, 6)
    kept, lost, other = "reader0@example.com", "reader1@example.com", "reader2@example.com"
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    for server in serve({kept}, {lost}):
        await send_all(pool, settings.with_(smtp_url=f"smtp://127.0.0.1:{server.port}?timeout=1"))
        first = list(server.received)
    before = await rows(pool)
    assert {a for a, (state, _) in before.items() if state == "unknown"} == {kept, lost}

    neither = verdicts(settings, "digest", "resolve", WEEK)
    not_unknown = verdicts(
        settings, "digest", "resolve", WEEK, "--delivered", "--subscriber", other
    )
    delivered = verdicts(
        settings, "digest", "resolve", WEEK, "--delivered", "--subscriber", people[kept]
    )
    resend = verdicts(settings, "digest", "resolve", WEEK, "--resend")  # every unknown row left
    sent = verdicts(settings, "digest", "send", "--week", WEEK)
    nothing_left = verdicts(settings, "digest", "resolve", WEEK, "--resend")

    for bad in (neither, not_unknown):
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert "Traceback" not in bad.stderr
    assert "is 'sent', not 'unknown'" in not_unknown.stderr
    for ok in (delivered, resend, sent, nothing_left):
        assert ok.returncode == 0, ok.stderr
    assert "1 row(s) marked sent" in delivered.stderr and people[kept] in delivered.stderr
    assert "1 row(s) back to pending" in resend.stderr and people[lost] in resend.stderr
    assert "no unknown rows" in nothing_left.stderr

    after = await rows(pool)
    assert after == {address: ("sent", 1) for address in people}
    # kept arrived once (the first time), lost once (the resend), the others once.
    copies = {a: first.count(a) + len(sink.to(a)) for a in people}
    assert copies == dict.fromkeys(people, 1)
    assert [r.rcpt for r in sink.received] == [lost]
    message_id = await pool.fetchval(
        "select data ->> 'message_id' from events where type = 'DigestDelivered'"
        " and stream_id = $1",
        f"subscriber-{people[kept]}",
    )
    assert message_id == f"<digest-{WEEK}-{people[kept]}@verdicts.test>"
    async with pool.acquire() as conn:
        status = await digest_issues.status(conn, IsoWeek.parse(WEEK))
    assert (status.delivered, status.duplicates, status.states) == (6, 0, {"sent": 6})
