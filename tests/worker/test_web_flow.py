"""The reader's side over HTTP, against the real app: subscribe with the JSON API,
confirm through the link in the mail (page, then form), get the digest, and leave with
the one-click List-Unsubscribe POST a mail client makes."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from services.api.app import create_app
from services.core import digest_issues
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.api.conftest import limits_for_test, post_form, running
from tests.asgi import asgi_client

from .conftest import CLOCK, WEEK, Sink, run_jobs
from .test_flow import links

pytestmark = pytest.mark.calendar

BASE = "http://testserver.local"


def local(url: str) -> str:
    """The path and query of a link in a mail, to request from the app under test."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_subscribe_confirm_receive_and_one_click_out_over_http(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    # The app on plain http, as in tests/api, so its secure-when-https cookies flow.
    app = create_app(settings.with_(public_url=BASE), limits=limits_for_test(), clock=CLOCK)
    async with (
        running(app),
        asgi_client(app, base_url=BASE) as reader,
    ):
        (await reader.get("/")).raise_for_status()
        reader.headers["X-CSRFToken"] = reader.cookies["csrftoken"]
        accepted = await reader.post("/api/v1/subscriptions", json={"email": "web@example.com"})
        assert accepted.status_code == 202

        await run_jobs(settings, pool, ("send_confirmations", ()))
        (mail,) = sink.to("web@example.com")
        (confirm_url,) = links(mail.message)[0]
        page = await reader.get(local(confirm_url))
        assert page.status_code == 200 and "<form" in page.text
        token = urlsplit(confirm_url).query.removeprefix("token=")
        done = await post_form(reader, "/subscribe/confirm", {"token": token})
        assert done.status_code == 303

        await run_jobs(settings, pool, ("issue_weekly_digest", (WEEK,)), ("deliver_digests", ()))
        (received,) = [r for r in sink.to("web@example.com") if r is not mail]
        one_click = received.message["List-Unsubscribe"].split(",")[0].strip(" <>")
        async with asgi_client(
            app, base_url=BASE
        ) as mail_client:  # no cookie, no CSRF token: what a mail client sends (RFC 8058)
            out = await mail_client.post(local(one_click), data={"List-Unsubscribe": "One-Click"})
        assert out.status_code == 200

    status = await pool.fetchrow(
        "select status, unsubscribe_reason from subscribers s"
        " join subscriber_emails e using (subscriber_id) where e.email = 'web@example.com'"
    )
    assert status is not None and tuple(status) == ("unsubscribed", "one-click")
    await digest_issues.issue(pool, settings, IsoWeek.parse("2026-W46"))
    await run_jobs(settings, pool, ("deliver_digests", ()))
    assert len(sink.to("web@example.com")) == 2, "nothing more after unsubscribing"
