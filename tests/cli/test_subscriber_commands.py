"""`verdicts subscriber`, run as an operator would: a real process, real exit codes."""

from __future__ import annotations

from services.core.store import Pool
from services.core.subscriptions import request_subscription

from .test_main import run


async def test_erase_a_subscriber_by_address(pool: Pool, dsn: str) -> None:
    sid = await request_subscription(pool, "erase-me@example.com")
    result = run(dsn, "subscriber", "erase", "Erase-Me@example.com")
    assert result.returncode == 0, result.stderr
    assert sid in result.stderr
    assert await pool.fetchval("select count(*) from subscriber_emails") == 0
    again = run(dsn, "subscriber", "erase", "erase-me@example.com")
    assert again.returncode == 2 and "no subscriber" in again.stderr
