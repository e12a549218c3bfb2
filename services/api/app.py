"""The Litestar application factory: ``uvicorn --factory services.api.app:create_app``.

Two audiences, two routers: server-rendered reader pages (HTML errors) and the JSON
API under ``/api/v1`` (problem details). Cross-cutting request hardening is in
``security.py``, the anonymous reader cookie in ``reader.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar, get
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE
from litestar.template.config import TemplateConfig
from redis.asyncio import Redis

from services.core.clock import Clock, system_clock
from services.core.config import Settings, exit_misconfigured, load_settings
from services.core.db import create_pool, outage
from services.core.health import Health, check_health
from services.core.logs import configure_logging
from services.core.outage import OutageLog
from services.core.projections.counters import compact
from services.core.resources import package_path
from services.core.tokens import Tokens

from .client_address import TrustedProxies
from .deps import DEPENDENCIES
from .error_handlers import handlers, unrouted
from .fallback_counter import REDIS_TIMEOUT
from .operator import operator_router
from .probes import PROBES
from .reader_cookie import ReaderCookies, ReaderMiddleware
from .request_telemetry import RequestIdMiddleware, record_response
from .security import (
    NO_READER,
    Limits,
    RateLimiter,
    RateLimitMiddleware,
    api_config_problem,
    csrf_middleware,
    hit_counter,
    security_headers,
)
from .v1 import API_PATH, api_router
from .web import web_router
from .web.static_files import StaticFileSystem

log = logging.getLogger(__name__)

TEMPLATES = package_path("services.templates", "web")
STATIC = package_path("services.api", "static")

API_DESCRIPTION = """\
The reader API of the AI-tool comparison site: comparisons, community tallies (now or
as of any past time), votes, bookmarks and digest subscriptions.

**Readers** are anonymous: the first response sets a signed `reader` cookie; send it
back to act as the same reader.

**CSRF**: every unsafe method (PUT, POST, DELETE) needs the `csrftoken` cookie (set by
any GET) echoed in the `X-CSRFToken` header; otherwise the answer is 403.

**Retries**: send an `Idempotency-Key` header on unsafe methods; a retried request with
the same key is done at most once.

**Errors** are RFC 9457 problem details (`application/problem+json`) whose `type` is
stable per error; `GET /problems/{type}` explains each.
"""


async def compact_forever(state: State, *, every: float = 2.0) -> None:
    """Fold counter deltas in the background; one process at a time does the work."""
    database = OutageLog("the database (counter compaction)", log)
    while True:
        try:
            async with state.pool.acquire() as conn:
                while await compact(conn) > 0:
                    pass
            database.recovered()
        except Exception as exc:  # keep folding after a passing database error
            if outage(exc) is None:
                log.exception("counter compaction failed; retrying")
            else:
                database.failed(exc, f"retrying every {every:g} s")
        await asyncio.sleep(every)


def _templates_fixed(engine: JinjaTemplateEngine) -> None:
    # The templates ship with the code: checking their mtime on every render is wasted work.
    engine.engine.auto_reload = False


@get("/healthz", include_in_schema=False, opt={NO_READER: True})
async def healthz(state: State) -> Response[Health]:
    """Liveness and readiness: database, Redis, worker heartbeat, oldest open writer.

    503 only when the database is down; without Redis the site still serves (limits
    count per process meanwhile), so that is 200 with ``status: degraded``."""
    health = await check_health(state.pool, state.redis)
    down = health.status == "down"
    return Response(health, status_code=HTTP_503_SERVICE_UNAVAILABLE if down else HTTP_200_OK)


def create_app(
    settings: Settings | None = None,
    *,
    limits: Limits | None = None,
    clock: Clock = system_clock,
) -> Litestar:
    """Build the app; ``settings`` default to the environment, ``limits`` to ``Limits()``,
    ``clock`` (what day it is, when a link expires) to the system's. Settings it must not
    run with (``api_config_problem``) stop the process: one line on stderr, exit code 2."""
    settings = settings or load_settings()
    configure_logging(settings.log_format, settings.log_level)
    limits = limits or Limits()
    if problem := api_config_problem(settings):
        exit_misconfigured(problem)
    limiter = RateLimiter(limits=limits, trusted=TrustedProxies.parse(settings.trusted_proxies))

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        assert settings.database_url and settings.redis_url
        app.state.pool = await create_pool(settings.database_url, size=settings.db_pool_size)
        app.state.redis = Redis.from_url(
            settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
        )
        # Limit counters in Redis: every API process counts against the same limit (and
        # on its own while Redis is down: fallback_counter.py).
        limiter.counter = hit_counter(app.state.redis, limits)
        compactor = asyncio.create_task(compact_forever(app.state))
        try:
            yield
        finally:
            compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await compactor
            await app.state.redis.aclose()
            await app.state.pool.close()

    secure = settings.public_url.startswith("https://")
    static = create_static_files_router(
        path="/static",
        directories=[STATIC],
        file_system=StaticFileSystem(),
        opt={NO_READER: True},
        cache_control=CacheControlHeader(max_age=3600, public=True),
    )
    return Litestar(
        route_handlers=[healthz, *PROBES, static, web_router(), api_router(), operator_router],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "clock": clock,
                "tokens": Tokens(settings.secret_key, clock=clock),
            }
        ),
        dependencies=DEPENDENCIES,
        middleware=[
            RequestIdMiddleware(),
            RateLimitMiddleware(limiter),
            ReaderMiddleware(ReaderCookies(settings.secret_key, secure=secure), limiter),
            csrf_middleware(settings),
        ],
        request_max_body_size=limits.max_body_bytes,
        before_send=[security_headers(settings), record_response],
        logging_config=None,  # services.core.logs configures logging, for uvicorn and arq too
        exception_handlers=handlers(unrouted),
        template_config=TemplateConfig(
            directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=_templates_fixed
        ),
        openapi_config=OpenAPIConfig(
            title="Verdicts reader API",
            version="1",
            description=API_DESCRIPTION,
            path=f"{API_PATH}/schema",
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
        ),
    )
