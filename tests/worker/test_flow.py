"""The whole path through real PostgreSQL, Redis (arq) and SMTP: subscribe, confirm by
the link in the mail, issue the digest, and exactly one digest per confirmed reader."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriptions import confirm_subscription, request_subscription, unsubscribe
from services.core.tokens import Purpose, Tokens
from services.core.weeks import IsoWeek

from .conftest import CLOCK, WEEK, Sink, run_jobs

pytestmark = pytest.mark.calendar

LINK = re.compile(r"https://verdicts\.test/[a-z/-]+\?token=[A-Za-z0-9_.\-]+")


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The (plain text, HTML) parts of a multipart/alternative mail."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def links(message: EmailMessage) -> tuple[list[str], list[str]]:
    text, html = bodies(message)
    return LINK.findall(text), LINK.findall(html)


async def test_subscribe_confirm_digest_once_per_confirmed_reader(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    reader = await request_subscription(pool, "Reader@Example.com")
    lurker = await request_subscription(pool, "lurker@example.com")  # never confirms
    leaver = await request_subscription(pool, "leaver@example.com")
    await run_jobs(settings, pool, ("send_confirmations", ()))

    assert sorted(r.rcpt for r in sink.received) == [
        "leaver@example.com",
        "lurker@example.com",
        "reader@example.com",
    ]
    tokens = Tokens(settings.secret_key, clock=CLOCK)
    for address, sid in (("reader@example.com", reader), ("leaver@example.com", leaver)):
        (mail,) = sink.to(address)
        msg = mail.message
        assert msg["Subject"] == "Confirm your subscription to Weekly AI Tool Verdicts"
        assert msg["Auto-Submitted"] == "auto-generated" and msg["Date"] and msg["Message-ID"]
        text_links, html_links = links(msg)
        assert text_links == html_links and len(text_links) == 1
        url = text_links[0]
        assert url.startswith("https://verdicts.test/subscribe/confirm?token=")
        assert tokens.read(Purpose.CONFIRM, url.split("token=", 1)[1]) == sid
        await confirm_subscription(pool, sid)
    await unsubscribe(pool, leaver, "link")

    week = IsoWeek.parse(WEEK)
    before = sink.count()
    await run_jobs(settings, pool, ("issue_weekly_digest", (WEEK,)), ("deliver_digests", ()))
    digests = sink.received[before:]
    assert [d.rcpt for d in digests] == ["reader@example.com"]
    async with pool.acquire() as conn:
        frozen = await conn.fetch("select subscriber_id::text from digest_recipients")
    assert [r[0] for r in frozen] == [reader], "unconfirmed and unsubscribed are not recipients"
    assert lurker != reader

    msg = digests[0].message
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["To"] == "reader@example.com"
    assert msg["From"] == "Weekly AI Tool Verdicts <digest@verdicts.test>"
    assert msg["Message-ID"] == f"<digest-2026-W47-{reader}@verdicts.test>"
    assert msg["Date"] is not None and msg["Date"].datetime is not None
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # One https URI and nothing else: no inbound path would act on a mailto:.
    (one_click,) = (v.strip(" <>") for v in msg["List-Unsubscribe"].split(","))
    assert one_click.startswith("https://verdicts.test/unsubscribe/one-click?token=")
    assert tokens.read(Purpose.UNSUBSCRIBE, one_click.split("token=", 1)[1]) == reader
    text_links, html_links = links(msg)
    visible = [u for u in text_links if "/unsubscribe?" in u]
    assert visible and visible == [u for u in html_links if "/unsubscribe?" in u]
    assert tokens.read(Purpose.UNSUBSCRIBE, visible[0].split("token=", 1)[1]) == reader

    text, html = bodies(msg)
    for title in ("Claude Files API vs Azure AI Foundry Real-Time Voice API &amp; Model Router",):
        assert title in html and title.replace("&amp;", "&") in text
    assert "<style" not in html and 'style="' in html  # CSS inlined for mail clients

    async with pool.acquire() as conn:
        s = await digest_issues.status(conn, week)
        ledger = await conn.fetch(
            "select subscriber_id::text, status, deliveries from digest_deliveries"
        )
    assert s.recipients == 1 and s.sent == 1 and s.delivered == 1 and s.completed_at
    assert [tuple(r) for r in ledger] == [(reader, "delivered", 1)]

    await run_jobs(settings, pool, ("issue_weekly_digest", (WEEK,)), ("deliver_digests", ()))
    assert len(sink.received) == before + 1, "a second run sends nothing new"
