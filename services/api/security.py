"""Request hardening: CSRF, rate limits, body size and security headers.

All of it is Litestar's own machinery (``CSRFConfig``, ``RateLimitConfig``,
``request_max_body_size``; ``csrf.py`` makes its CSRF check survive a key rotation);
this module only holds our settings for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import DurationUnit, RateLimitConfig
from litestar.types import Message, Scope

from services.core.config import Settings, secret_key_problem

from .csrf import RotatingCSRFMiddleware

VOTE_LIMIT_STORE = "rate_limit_votes"
SUBSCRIBE_LIMIT_STORE = "rate_limit_subscriptions"

RATE_LIMIT = "rate_limit"
"""Route ``opt`` key naming the limit a route counts against: ``VOTES`` or ``SUBSCRIPTIONS``."""
VOTES = "votes"
SUBSCRIPTIONS = "subscriptions"

NO_READER = "no_reader_cookie"
"""Route ``opt`` key: do not mint a reader cookie (mail clients, static files, probes)."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-client rate limits and the request size bound.

    Counters live in Redis under ``namespace``, so every API process shares them.
    """

    votes: tuple[DurationUnit, int] = ("minute", 60)
    subscriptions: tuple[DurationUnit, int] = ("hour", 10)
    max_body_bytes: int = 16 * 1024
    namespace: str = "verdicts:ratelimit"


def api_config_problem(settings: Settings) -> str | None:
    """What keeps the API from starting with ``settings``, in one line; ``None`` if nothing."""
    if not settings.database_url or not settings.redis_url:
        return "DATABASE_URL and REDIS_URL must be set (or use `verdicts dev`)"
    return secret_key_problem(settings)


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    """Litestar's CSRF defaults (cookie ``csrftoken``, header ``X-CSRFToken``), verified
    with every key in ``SECRET_KEY`` so a rotation does not void open forms."""
    keys = settings.signing_keys
    config = CSRFConfig(secret=keys[0], cookie_secure=settings.public_url.startswith("https://"))
    return DefineMiddleware(RotatingCSRFMiddleware, config=config, keys=keys)


def _counts_against(kind: str) -> Callable[[Request[Any, Any, Any]], Awaitable[bool]]:
    async def check(request: Request[Any, Any, Any]) -> bool:
        return bool(request.route_handler.opt.get(RATE_LIMIT) == kind)

    return check


def rate_limits(limits: Limits) -> tuple[RateLimitConfig, RateLimitConfig]:
    """(votes, subscriptions), each counting only the routes whose ``opt`` names it, in
    its own store, so page views never use up either."""
    return (
        RateLimitConfig(
            rate_limit=limits.votes,
            store=VOTE_LIMIT_STORE,
            check_throttle_handler=_counts_against(VOTES),
        ),
        RateLimitConfig(
            rate_limit=limits.subscriptions,
            store=SUBSCRIBE_LIMIT_STORE,
            check_throttle_handler=_counts_against(SUBSCRIPTIONS),
        ),
    )


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


async def add_security_headers(message: Message, scope: Scope) -> None:
    """``before_send`` hook: every response, error pages and unrouted 404s included."""
    if message["type"] == "http.response.start":
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value
