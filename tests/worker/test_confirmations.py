"""Confirmation mails: the log is the outbox; capped per address; only to pending readers."""

from __future__ import annotations

import asyncio
import re

import pytest

from services.core import subscriptions as subs
from services.core.config import Settings
from services.core.store import Pool
from services.worker.confirmations import ConfirmationMails, ingest
from services.worker.dispatch import Dispatcher, Progress

from .conftest import Sink, until

pytestmark = pytest.mark.calendar


async def deliver(pool: Pool, settings: Settings) -> Progress:
    """One worker pass: file new requests from the log, then send what is due."""
    await ingest(pool, daily_limit=settings.confirm_daily_limit)
    return await Dispatcher(pool, settings, ConfirmationMails(settings)).run()


async def states(pool: Pool) -> list[tuple[str, str | None]]:
    rows = await pool.fetch("select state, detail from confirmation_mails order by id")
    return [(r[0], r[1]) for r in rows]


async def test_smtp_down_delays_the_mail_and_nothing_is_lost_or_doubled(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    sink.stop()
    # Subscribing touches only PostgreSQL: Redis or SMTP being down cannot lose it.
    await subs.request_subscription(pool, "reader@example.com")
    down = await deliver(pool, settings)
    assert down.smtp_down and down.sent == 0
    assert await states(pool) == [("pending", down.smtp_down)]

    sink.start()
    await until(pool, "select bool_and(next_attempt_at <= now()) from confirmation_mails")
    assert (await deliver(pool, settings)).sent == 1
    assert (await deliver(pool, settings)).sent == 0
    assert [r.rcpt for r in sink.received] == ["reader@example.com"]


async def test_filing_is_idempotent_even_from_scratch(pool: Pool, settings: Settings) -> None:
    for i in range(5):
        await subs.request_subscription(pool, f"r{i}@example.com")
    filed = await asyncio.gather(*(ingest(pool, daily_limit=3) for _ in range(4)))
    assert sum(filed) == 5
    await pool.execute("delete from outbox_cursors where name = 'confirmation-outbox'")
    assert await ingest(pool, daily_limit=3) == 0, "a lost cursor re-reads but files nothing twice"
    assert await pool.fetchval("select count(*) from confirmation_mails") == 5


async def test_a_flood_of_requests_is_capped_per_address_and_recorded(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    for _ in range(6):  # six requests before the worker runs: one mail covers them
        await subs.request_subscription(pool, "victim@example.com")
    await deliver(pool, settings)
    assert len(sink.to("victim@example.com")) == 1
    assert [s for s in await states(pool)] == [("sent", None)] + [("suppressed", "coalesced")] * 5

    for _ in range(6):  # one at a time, each sent before the next: the daily cap holds
        await subs.request_subscription(pool, "victim@example.com")
        await deliver(pool, settings)
    assert len(sink.to("victim@example.com")) == settings.confirm_daily_limit
    limited = await pool.fetchval(
        "select count(*) from confirmation_mails where detail = 'daily-limit'"
    )
    assert limited == 6 - (settings.confirm_daily_limit - 1)

    await subs.request_subscription(pool, "someone-else@example.com")
    await deliver(pool, settings)
    assert len(sink.to("someone-else@example.com")) == 1, "the cap is per address"


async def test_only_pending_subscribers_get_a_confirmation(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    confirmed = await subs.request_subscription(pool, "quick@example.com")
    await subs.confirm_subscription(pool, confirmed)  # confirmed before the worker ran
    gone = await subs.request_subscription(pool, "gone@example.com")
    await subs.erase_subscriber(pool, gone)
    left = await subs.request_subscription(pool, "left@example.com")
    await subs.unsubscribe(pool, left, "link")
    progress = await deliver(pool, settings)
    assert sink.count() == 0 and progress.sent == 0
    assert [s for s, _ in await states(pool)] == ["skipped", "skipped", "skipped"]


async def test_no_reader_text_in_the_mail_only_the_template(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    await subs.request_subscription(pool, "first@example.com")
    await subs.request_subscription(pool, "second.person+tag@example.com")
    await deliver(pool, settings)
    bodies = []
    for received in sorted(sink.received, key=lambda r: r.rcpt):
        msg = received.message
        parts = [msg.get_body((kind,)) for kind in ("plain", "html")]
        text = "".join(p.get_content() for p in parts if p is not None)
        bodies.append(re.sub(r"token=[A-Za-z0-9_.\-]+", "token=T", text))
        assert received.rcpt not in text, "not even the address is echoed in the body"
    assert bodies[0] == bodies[1]
