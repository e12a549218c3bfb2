"""Request hardening: CSRF, per-client limits, body size and security headers.

CSRF is Litestar's (``csrf.py`` makes it survive a key rotation); per-client limits
are ``limiter.py``'s, keyed by ``client_address.py``; this module holds our settings
for them and wires them up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.config.csrf import CSRFConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware, DefineMiddleware
from litestar.types import ASGIApp, BeforeMessageSendHookHandler, Message, Receive, Scope, Send
from redis.asyncio import Redis

from services.core.config import Settings, secret_key_problem

from .client_address import TrustedProxies, client_address
from .csrf import RotatingCSRFMiddleware
from .fallback_counter import FallbackHitCounter
from .limiter import (
    Hit,
    HitCounter,
    NewReaderLimitError,
    Rate,
    RateLimitedError,
    RedisHitCounter,
    count_hit,
    over,
)

RATE_LIMIT = "rate_limit"
"""Route ``opt`` key naming the per-client limit a route counts against."""
VOTES = "votes"
BOOKMARKS = "bookmarks"
SUBSCRIPTIONS = "subscriptions"
ONE_CLICK = "one_click"
NEW_READERS = "new_readers"
"""Not a route's limit: counts requests that would mint a reader cookie."""

READER_ACTIONS = frozenset({VOTES, BOOKMARKS})
"""Limits of routes that act as a reader: no fresh reader for them over the new-reader cap."""

NO_READER = "no_reader_cookie"
"""Route ``opt`` key: do not mint a reader cookie (mail clients, static files, probes)."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-client limits and the request size bound.

    Counters live in Redis under ``namespace``, so every API process shares them.
    ``one_click`` is far above what a mail client sends (one POST per click, though a
    mailbox provider posts for many of its users from few addresses); ``new_readers``
    counts requests without a valid reader cookie from one client.
    """

    votes: Rate = ("minute", 60)
    bookmarks: Rate = ("minute", 60)
    subscriptions: Rate = ("hour", 10)
    one_click: Rate = ("minute", 300)
    new_readers: Rate = ("hour", 30)
    max_body_bytes: int = 16 * 1024
    namespace: str = "verdicts:ratelimit"

    def rate(self, name: str) -> Rate:
        rate: Rate = getattr(self, name)
        return rate


def api_config_problem(settings: Settings) -> str | None:
    """What keeps the API from starting with ``settings``, in one line; ``None`` if nothing."""
    if not settings.database_url or not settings.redis_url:
        return "DATABASE_URL and REDIS_URL must be set (or use `verdicts dev`)"
    if problem := secret_key_problem(settings):
        return problem
    try:
        TrustedProxies.parse(settings.trusted_proxies)
    except ValueError as exc:
        return str(exc)
    return None


def hit_counter(redis: Redis, limits: Limits) -> HitCounter:
    """Where the API counts hits: the one place to swap the store. Redis, and this
    process's memory while Redis is down (``fallback_counter.py``)."""
    return FallbackHitCounter(RedisHitCounter(redis, limits.namespace))


@dataclass(kw_only=True)
class RateLimiter:
    """Counts a request against a limit by client. ``counter`` is attached when the
    app's lifespan has opened Redis."""

    limits: Limits
    trusted: TrustedProxies
    counter: HitCounter | None = field(default=None)

    def client(self, scope: Scope) -> str:
        return client_address(scope, self.trusted)

    async def hit(self, name: str, scope: Scope) -> Hit:
        assert self.counter is not None, "the lifespan attaches the counter"
        return await count_hit(self.counter, name, self.client(scope), self.limits.rate(name))

    async def check(self, name: str, scope: Scope) -> None:
        """Count the request; ``RateLimitedError`` if it is over ``name``'s limit."""
        hit = await self.hit(name, scope)
        if over(self.limits.rate(name), hit):
            raise RateLimitedError(self.limits.rate(name), hit)

    async def may_mint_reader(self, scope: Scope) -> bool:
        """Count a would-be new reader; ``NewReaderLimitError`` instead of ``False``
        when the route acts as a reader (votes, bookmarks)."""
        hit = await self.hit(NEW_READERS, scope)
        if not over(self.limits.new_readers, hit):
            return True
        if route_limit(scope) in READER_ACTIONS:
            raise NewReaderLimitError(self.limits.new_readers, hit)
        return False


def route_limit(scope: Scope) -> str | None:
    """The limit the matched route counts against, if any."""
    limit: str | None = scope["route_handler"].opt.get(RATE_LIMIT)
    return limit


class RateLimitMiddleware(ASGIMiddleware):
    """Counts requests of routes whose ``opt`` names a limit; 429 over it."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        if (name := route_limit(scope)) is not None:
            await self.limiter.check(name, scope)
        await next_app(scope, receive, send)


def csrf_middleware(settings: Settings) -> DefineMiddleware:
    """Litestar's CSRF defaults (cookie ``csrftoken``, header ``X-CSRFToken``), verified
    with every key in ``SECRET_KEY`` so a rotation does not void open forms."""
    keys = settings.signing_keys
    config = CSRFConfig(secret=keys[0], cookie_secure=settings.public_url.startswith("https://"))
    return DefineMiddleware(RotatingCSRFMiddleware, config=config, keys=keys)


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

HSTS = "max-age=31536000"
"""A year; without ``includeSubDomains``, which would bind every other host of the domain."""


def _carries_token(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    return query.startswith(b"token=") or b"&token=" in query


def security_headers(settings: Settings) -> BeforeMessageSendHookHandler:
    """The ``before_send`` hook for every response, error pages and unrouted 404s included:
    the headers above, HSTS when ``PUBLIC_URL`` is https, and no ``Referer`` from a page
    whose address carries a mail token (its stylesheet request would pass it on)."""
    https = settings.public_url.startswith("https://")
    headers_for_all = SECURITY_HEADERS | ({"strict-transport-security": HSTS} if https else {})

    async def add_security_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in headers_for_all.items():
            if name not in headers:
                headers[name] = value
        if _carries_token(scope):
            headers["referrer-policy"] = "no-referrer"

    return add_security_headers
