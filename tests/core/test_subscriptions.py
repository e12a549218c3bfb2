"""Double opt-in subscription: request, confirm, unsubscribe, erase."""

from __future__ import annotations

import pytest

from services.core import subscriptions as subs
from services.core.db import connect
from services.core.errors import InvalidEmailError, InvalidTokenError
from services.core.replay import replay
from services.core.store import Pool
from services.core.tokens import Purpose, Tokens


async def test_request_confirm_unsubscribe(pool: Pool) -> None:
    sid = await subs.request_subscription(pool, "Reader@Example.com")
    async with pool.acquire() as conn:
        assert await subs.status_of(conn, sid) == "pending"
    assert await subs.confirm_subscription(pool, sid) is subs.Outcome.CONFIRMED
    assert await subs.confirm_subscription(pool, sid) is subs.Outcome.ALREADY_CONFIRMED
    assert await subs.unsubscribe(pool, sid, "one-click") is subs.Outcome.UNSUBSCRIBED
    assert await subs.unsubscribe(pool, sid, "link") is subs.Outcome.ALREADY_UNSUBSCRIBED
    assert await subs.confirm_subscription(pool, sid) is subs.Outcome.NOT_PENDING


async def test_same_address_same_subscriber_and_no_email_in_the_log(pool: Pool) -> None:
    a = await subs.request_subscription(pool, "reader@example.com")
    b = await subs.request_subscription(pool, " READER@example.com ")
    assert a == b
    logged = await pool.fetchval("select string_agg(data::text || metadata::text, '') from events")
    assert "example.com" not in logged


async def test_bad_email_is_refused_and_nothing_appended(pool: Pool) -> None:
    with pytest.raises(InvalidEmailError):
        await subs.request_subscription(pool, "not-an-address")
    assert await pool.fetchval("select count(*) from events") == 0


async def test_erasure_deletes_the_address_and_replay_still_works(pool: Pool, dsn: str) -> None:
    sid = await subs.request_subscription(pool, "gone@example.com")
    await subs.confirm_subscription(pool, sid)
    await subs.erase_subscriber(pool, sid)
    assert await pool.fetchval("select count(*) from subscriber_emails") == 0
    conn = await connect(dsn)
    try:
        await replay(conn, ["subscribers"])
    finally:
        await conn.close()
    async with pool.acquire() as c:
        assert await subs.status_of(c, sid) == "erased"


@pytest.mark.calendar
def test_tokens_name_the_subscriber_and_refuse_forgery() -> None:
    tokens = Tokens("k1")
    sid = "0b7c6f0e-5d4a-4a8e-9d3c-1f2e3d4c5b6a"
    token = tokens.issue(Purpose.CONFIRM, sid)
    assert tokens.read(Purpose.CONFIRM, token) == sid
    with pytest.raises(InvalidTokenError):
        tokens.read(Purpose.UNSUBSCRIBE, token)  # a confirm token cannot unsubscribe
    with pytest.raises(InvalidTokenError):
        Tokens("other").read(Purpose.CONFIRM, token)
    with pytest.raises(InvalidTokenError):
        tokens.read(Purpose.CONFIRM, token[:-2] + "xx")
