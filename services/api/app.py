"""The Litestar application factory: ``uvicorn --factory services.api.app:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from litestar.response import Response
from redis.asyncio import Redis

from services.core.config import Settings, load_settings
from services.core.db import create_pool
from services.core.health import Health, check_health
from services.core.projections.counters import compact

log = logging.getLogger(__name__)


async def compact_forever(state: State, *, every: float = 2.0) -> None:
    """Fold counter deltas in the background; one process at a time does the work."""
    while True:
        try:
            async with state.pool.acquire() as conn:
                while await compact(conn) > 0:
                    pass
        except Exception:  # keep folding after a passing database error
            log.exception("counter compaction failed; retrying")
        await asyncio.sleep(every)


@get("/healthz", include_in_schema=False)
async def healthz(state: State) -> Response[Health]:
    """Liveness and readiness: database, Redis, worker heartbeat, oldest open writer."""
    health = await check_health(state.pool, state.redis)
    return Response(health, status_code=HTTP_200_OK if health.ok else HTTP_503_SERVICE_UNAVAILABLE)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app; ``settings`` default to the environment."""
    settings = settings or load_settings()
    if not settings.database_url or not settings.redis_url:
        raise SystemExit("DATABASE_URL and REDIS_URL must be set (or use `verdicts dev`)")

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        assert settings.database_url and settings.redis_url
        app.state.settings = settings
        app.state.pool = await create_pool(settings.database_url, size=settings.db_pool_size)
        app.state.redis = Redis.from_url(settings.redis_url)
        compactor = asyncio.create_task(compact_forever(app.state))
        try:
            yield
        finally:
            compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await compactor
            await app.state.redis.aclose()
            await app.state.pool.close()

    return Litestar(route_handlers=[healthz], lifespan=[lifespan])
