"""The global hourly cap on confirmation mails (CONFIRM_HOURLY_LIMIT): rotating
addresses (and clients) cannot make a mail cannon of the subscribe form, and every
request over the cap is kept as a suppressed row that says why."""

from __future__ import annotations

import pytest

from services.core import subscriptions as subs
from services.core.config import Settings
from services.core.store import Pool

from .conftest import Sink, run_jobs

pytestmark = pytest.mark.calendar

CAP = 5


async def rows(pool: Pool) -> list[tuple[str, str | None]]:
    found = await pool.fetch("select state, detail from confirmation_mails order by id")
    return [(r[0], r[1]) for r in found]


async def test_mails_to_all_addresses_stop_at_the_hourly_cap_and_nothing_is_lost(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    capped = settings.with_(confirm_hourly_limit=CAP)
    for i in range(12):  # twelve addresses, as a flood through rotating clients would be
        await subs.request_subscription(pool, f"victim{i}@example.com")
    await run_jobs(capped, pool, ("send_confirmations", ()))
    assert sink.count() == CAP
    assert await rows(pool) == [("sent", None)] * CAP + [("suppressed", "hourly-limit")] * 7

    # An hour on (by the log's clock, which the rows carry), mail flows again, up to the cap.
    await pool.execute(
        "update confirmation_mails set requested_at = requested_at - interval '61 minutes'"
    )
    for i in range(12, 12 + CAP + 1):
        await subs.request_subscription(pool, f"victim{i}@example.com")
    await run_jobs(capped, pool, ("send_confirmations", ()))
    assert sink.count() == 2 * CAP
    assert (await rows(pool))[12:] == [("sent", None)] * CAP + [("suppressed", "hourly-limit")]


async def test_suppressed_requests_do_not_use_up_the_hour(
    pool: Pool, settings: Settings, sink: Sink
) -> None:
    for _ in range(20):  # one address, many times: coalesced, not counted against the hour
        await subs.request_subscription(pool, "eager@example.com")
    for i in range(CAP - 1):
        await subs.request_subscription(pool, f"other{i}@example.com")
    await run_jobs(settings.with_(confirm_hourly_limit=CAP), pool, ("send_confirmations", ()))
    assert sink.count() == CAP
    assert "hourly-limit" not in {d for _, d in await rows(pool)}
