"""Operator-only routes, behind ``Authorization: Bearer <OPERATOR_TOKEN>``.

With no ``OPERATOR_TOKEN`` configured every route here answers 401: there is no
default token.
"""

from __future__ import annotations

import hmac
from typing import Any, Literal

from litestar import Router, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import ClientException, NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery
from litestar.response import Response
from litestar.status_codes import HTTP_404_NOT_FOUND

from services.core import digest_issues
from services.core.clock import Clock
from services.core.config import Settings
from services.core.errors import InvalidWeekError
from services.core.mail_render import UNSUBSCRIBE_URL
from services.core.weeks import IsoWeek

from .security import NO_READER

PREVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; sandbox"
"""The preview is a mail: its CSS is inlined, so it needs a policy of its own; no script."""


def operator_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: the bearer token must equal ``OPERATOR_TOKEN`` (compared in constant time)."""
    settings: Settings = connection.app.state.settings
    expected = settings.operator_token
    given = connection.headers.get("authorization", "")
    if not expected or not hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
        raise NotAuthorizedException("operator token required")


@get("/digest/preview")
async def digest_preview(
    state: State,
    week: FromQuery[str | None] = None,
    format: FromQuery[Literal["html", "text"]] = "html",
) -> Response[str]:
    """The digest of ``week`` (default: the last complete week, as for the CLI) as HTML or
    text; sends nothing."""
    settings: Settings = state.settings
    clock: Clock = state.clock
    try:
        chosen = IsoWeek.parse(week) if week else None
    except InvalidWeekError as exc:
        raise ClientException(str(exc)) from None
    async with state.pool.acquire() as conn:
        target = chosen or IsoWeek.last_complete(clock())
        mail = await digest_issues.preview(conn, settings, target)
    if mail is None:
        # Answered here, not raised: the site's 404 page would hide the reason.
        return Response(
            f"nothing published in {target}: there is no digest\n",
            status_code=HTTP_404_NOT_FOUND,
            media_type="text/plain; charset=utf-8",
        )
    body = mail.html if format == "html" else mail.text
    sample = f"{settings.public_url.rstrip('/')}/unsubscribe?token=preview"
    return Response(
        body.replace(UNSUBSCRIBE_URL, sample),
        media_type="text/html; charset=utf-8" if format == "html" else "text/plain; charset=utf-8",
        headers={"Cache-Control": "no-store", "Content-Security-Policy": PREVIEW_POLICY},
    )


operator_router = Router(
    path="/operator",
    route_handlers=[digest_preview],
    guards=[operator_only],
    include_in_schema=False,
    opt={NO_READER: True},
)
