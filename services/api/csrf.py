"""Litestar's CSRF protection, made to survive a ``SECRET_KEY`` rotation.

Litestar's ``CSRFMiddleware`` is a double-submit cookie: the ``csrftoken`` cookie holds
a random value and its HMAC under ``CSRFConfig.secret``, and an unsafe request must echo
the same token (header or form field). It knows one secret, and on a safe request it
keeps whatever ``csrftoken`` cookie the browser sends, valid or not. So after a
rotation every reader who still holds a cookie signed with the old key would get 403 on
every form, for as long as the (session) cookie lives.

Here the token is checked against every key in ``SECRET_KEY`` (newest first), so forms
opened before a rotation still post while the old key is listed. New tokens are signed
with the newest key. A safe request whose cookie no listed key signed (the old key was
removed) gets a fresh one: a form left open across the removal fails once with 403, and
reloading the page heals it.
"""

from __future__ import annotations

from hmac import compare_digest

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.middleware.csrf import (
    CSRF_SECRET_LENGTH,
    CSRFMiddleware,
    generate_csrf_hash,
    generate_csrf_token,
)
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState


class RotatingCSRFMiddleware(CSRFMiddleware):
    """``CSRFMiddleware`` verifying with each of ``keys`` (newest first), signing with the first."""

    def __init__(self, app: ASGIApp, config: CSRFConfig, keys: tuple[str, ...]) -> None:
        super().__init__(app, config)
        self.keys = keys

    def _decode_csrf_token(self, token: str) -> str | None:
        value, mac = token[:CSRF_SECRET_LENGTH], token[CSRF_SECRET_LENGTH:]
        if not mac:
            return None
        for key in self.keys:
            if compare_digest(mac, generate_csrf_hash(token=value, secret=key)):
                return value
        return None

    def _needs_fresh_token(self, scope: Scope) -> bool:
        """A safe request on a protected route whose cookie is absent or signed by no key."""
        if scope["type"] != ScopeType.HTTP or scope["method"] not in self.config.safe_methods:
            return False
        if scope["route_handler"].opt.get(self.config.exclude_from_csrf_key):
            return False
        cookie = ASGIConnection(scope).cookies.get(self.config.cookie_name)
        return cookie is None or self._decode_csrf_token(cookie) is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._needs_fresh_token(scope):
            await super().__call__(scope, receive, send)
            return
        token = generate_csrf_token(secret=self.keys[0])
        ScopeState.from_scope(scope).csrf_token = token
        await self.app(scope, receive, self.create_send_wrapper(send, token, csrf_cookie=None))
