"""The mail counters move by what the senders did, by kind and outcome."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from services.core import digest_issues
from services.core import subscriptions as subs
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from services.worker.confirmations import ConfirmationMails, ingest
from services.worker.dispatch import Dispatcher
from tests.metrics_text import Samples, delta, samples

from .conftest import WEEK, Sink, confirmed, send_all

pytestmark = pytest.mark.calendar

MAILS = "verdicts_mails_total"


def scrape() -> Samples:
    return samples(generate_latest().decode())


async def test_confirmation_mails_by_outcome(pool: Pool, settings: Settings, sink: Sink) -> None:
    before = scrape()
    await subs.request_subscription(pool, "one@example.com")
    await subs.request_subscription(pool, "one@example.com")  # rides on the first mail
    await subs.request_subscription(pool, "two@example.com")
    sink.refuse["two@example.com"] = "550 5.1.1 no such mailbox"
    await ingest(pool, daily_limit=settings.confirm_daily_limit)
    await Dispatcher(pool, settings, ConfirmationMails(settings)).run()
    after = scrape()
    kind = {"kind": "confirmation"}
    assert delta(before, after, MAILS, outcome="sent", **kind) == 1
    assert delta(before, after, MAILS, outcome="suppressed", **kind) == 1
    assert delta(before, after, MAILS, outcome="bounced", **kind) == 1
    assert delta(before, after, MAILS, outcome="sent", kind="digest") == 0


async def test_digest_mails_by_outcome(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    people = await confirmed(pool, 4)
    sink.refuse["reader0@example.com"] = "550 5.1.1 no such mailbox"
    await subs.unsubscribe(pool, people["reader1@example.com"], "link")
    before = scrape()
    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    await send_all(pool, settings)
    after = scrape()
    kind = {"kind": "digest"}
    assert delta(before, after, MAILS, outcome="sent", **kind) == 2
    assert delta(before, after, MAILS, outcome="bounced", **kind) == 1
    assert delta(before, after, MAILS, outcome="unknown", **kind) == 0
