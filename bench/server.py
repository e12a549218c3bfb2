"""The API as production runs it, with the per-client rate limits lifted: every
request of a load test comes from 127.0.0.1, where in production they come from many
readers. The rate-limit middleware still runs and still counts in Redis."""

from __future__ import annotations

from litestar import Litestar

from services.api.app import create_app as create_production_app
from services.api.security import Limits

UNLIMITED = 1_000_000_000


def create_app() -> Litestar:
    """``uvicorn --factory bench.server:create_app`` (settings from the environment)."""
    return create_production_app(
        limits=Limits(
            votes=("second", UNLIMITED),
            bookmarks=("second", UNLIMITED),
            subscriptions=("second", UNLIMITED),
            new_readers=("second", UNLIMITED),
        )
    )
