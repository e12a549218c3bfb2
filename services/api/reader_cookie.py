"""Anonymous readers: a signed, HttpOnly, SameSite=Lax cookie holding a random reader id.

The cookie is minted on a reader's first request. A missing, forged or tampered cookie
is simply a new reader: there is nothing to reject, and nothing of anyone else's to see.

A fresh cookie per request would be a fresh voter per request, so minting counts
against a per-client cap (``Limits.new_readers``). Over it, pages still work (for a
reader of that one request, with no cookie set), but a vote or bookmark is refused
with 429: voting needs a reader from an earlier request.

Every answer that went through here depends on the reader (its votes, its bookmarks,
its cookie, the CSRF token in its forms), so none may be stored by a shared cache:
``Cache-Control: private, no-store`` and ``Vary: Cookie``.

Keys rotate with ``SECRET_KEY`` (newest first): cookies signed with an older listed
key still read, and new ones are signed with the newest.
"""

from __future__ import annotations

import uuid
from typing import Any

from itsdangerous import BadSignature, Signer
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.core.config import keys_oldest_first
from services.core.ids import time_ordered_uuid

from .security import NO_READER, RateLimiter

COOKIE_NAME = "reader"
COOKIE_MAX_AGE = 2 * 365 * 86_400
_STATE_KEY = "reader_id"


class ReaderCookies:
    """Signs and reads reader ids with ``SECRET_KEY`` (one key, or several newest first)."""

    def __init__(self, secret_key: str, *, secure: bool) -> None:
        self._signer = Signer(keys_oldest_first(secret_key), salt="verdicts-reader")
        self.secure = secure

    def read(self, value: str | None) -> str | None:
        """The reader id in a cookie value, or ``None`` when absent, forged or mangled."""
        if not value:
            return None
        try:
            raw = self._signer.unsign(value).decode()
            return str(uuid.UUID(raw))
        except (BadSignature, ValueError, UnicodeDecodeError):
            return None

    def cookie(self, reader_id: str) -> Cookie:
        return Cookie(
            key=COOKIE_NAME,
            value=self._signer.sign(reader_id).decode(),
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )


class ReaderMiddleware(ASGIMiddleware):
    """Puts the reader id in the request state; sets the cookie when it is new (and the
    client is under the new-reader cap); marks the answer as the reader's own."""

    scopes = (ScopeType.HTTP,)
    exclude_opt_key = NO_READER

    def __init__(self, cookies: ReaderCookies, limiter: RateLimiter) -> None:
        self.cookies = cookies
        self.limiter = limiter

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
        reader_id = self.cookies.read(connection.cookies.get(COOKIE_NAME))
        cookie = None
        if reader_id is None:
            reader_id = str(time_ordered_uuid())
            if await self.limiter.may_mint_reader(scope):
                cookie = self.cookies.cookie(reader_id).to_header(header="")
        connection.state[_STATE_KEY] = reader_id

        async def send_as_readers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                headers["cache-control"] = "private, no-store"
                headers.extend_header_value("vary", "Cookie")
                if cookie is not None:
                    headers.add("set-cookie", cookie)
            await send(message)

        await next_app(scope, receive, send_as_readers)


async def provide_reader_id(request: Request[Any, Any, Any]) -> str:
    """Dependency: the calling reader's id (the middleware always sets one)."""
    reader_id: str = request.state[_STATE_KEY]
    return reader_id
