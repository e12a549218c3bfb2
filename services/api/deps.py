"""Dependencies every route may ask for by name: ``pool``, ``reader_id``, ``request_id``,
``tokens``, ``settings``, ``clock``, ``idempotency``."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from services.core.clock import Clock
from services.core.config import Settings
from services.core.store import Pool
from services.core.tokens import Tokens

from .idempotency import provide_idempotency
from .reader_cookie import provide_reader_id
from .request_telemetry import request_id_of


async def provide_pool(state: State) -> Pool:
    pool: Pool = state.pool
    return pool


async def provide_settings(state: State) -> Settings:
    settings: Settings = state.settings
    return settings


async def provide_clock(state: State) -> Clock:
    clock: Clock = state.clock
    return clock


async def provide_tokens(state: State) -> Tokens:
    tokens: Tokens = state.tokens
    return tokens


async def provide_request_id(request: Request[Any, Any, Any]) -> str:
    """The caller's ``X-Request-ID`` when it is sane, else a fresh one; kept in event
    metadata, echoed in the response and carried by the request's log lines."""
    return request_id_of(request.scope)


DEPENDENCIES = {
    "pool": Provide(provide_pool),
    "settings": Provide(provide_settings),
    "tokens": Provide(provide_tokens),
    "clock": Provide(provide_clock),
    "reader_id": Provide(provide_reader_id),
    "request_id": Provide(provide_request_id),
    "idempotency": Provide(provide_idempotency),
}
