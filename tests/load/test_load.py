"""Ten seconds of the load run in the default suite: two uvicorn workers, a few readers.
The long run is ``python -m tests.load --workers 2 --duration 600`` (see __init__)."""

from __future__ import annotations

from pathlib import Path

from tests.api.live import live_dsn

from .harness import run_load

__all__ = ["live_dsn"]


async def test_ten_seconds_of_load_lose_and_duplicate_nothing(
    live_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    report = await run_load(live_dsn, redis_url, tmp_path, workers=2, clients=6, duration=10)
    print(report.summary())
    assert report.ok, report.summary()
    assert report.server_errors == 0 and report.errors == 0
    assert report.ledger.acknowledged > 100, "the readers got something done"
    assert set(report.actions) == {"vote", "withdraw", "bookmark", "subscribe", "read"}
