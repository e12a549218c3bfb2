"""Each request's id, its log line and its metrics.

``RequestIdMiddleware`` decides the request id once (the caller's sane
``X-Request-ID``, else a fresh one), keeps it in the scope, where ``deps.request_id``
hands it to the events' metadata, and binds it to every log line written while
the request is handled. ``record_response``, a ``before_send`` hook, sees every
response, error pages and unrouted 404s included: it echoes the id in
``X-Request-ID``, counts the request by route template and status, and logs one
line for it (the path, never the query string, where mail links carry tokens).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from services.core import metrics
from services.core.logs import bound

from .security import RATE_LIMIT

log = logging.getLogger("services.api.requests")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_ID = "verdicts.request_id"
_STARTED = "verdicts.started"
_STATUS = "verdicts.status"

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
QUIET_ROUTES = ("/livez", "/readyz", "/healthz", "/metrics", "/static")
"""Probes, scrapes and static files: logged only when they fail."""


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def request_id_of(scope: Scope) -> str:
    """The request's id: decided once per request, from ``X-Request-ID`` if sane."""
    state = _state(scope)
    rid: str | None = state.get(_ID)
    if rid is None:
        given = Headers.from_scope(scope).get("x-request-id", "")
        rid = state[_ID] = given if _SANE_ID.match(given) else uuid.uuid4().hex
    return rid


class RequestIdMiddleware(ASGIMiddleware):
    """Outermost middleware: the request id, its log context and the start time."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        _state(scope)[_STARTED] = time.perf_counter()
        with bound(request_id=request_id_of(scope)):
            await next_app(scope, receive, send)


async def record_response(message: Message, scope: Scope) -> None:
    """``before_send``: echo the id; at the last body chunk, count and log the request."""
    if scope["type"] != ScopeType.HTTP:
        return
    state = _state(scope)
    if message["type"] == "http.response.start":
        MutableScopeHeaders.from_message(message)["x-request-id"] = request_id_of(scope)
        state[_STATUS] = message["status"]
    elif message["type"] == "http.response.body" and not message.get("more_body", False):
        status = state.pop(_STATUS, None)
        if status is not None:
            _finished(scope, state, status)


def _finished(scope: Scope, state: dict[str, Any], status: int) -> None:
    method = scope.get("method", "GET")
    method = method if method in _METHODS else "OTHER"
    route: str = scope.get("path_template") or "unrouted"
    metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
    started: float | None = state.get(_STARTED)
    seconds = None if started is None else time.perf_counter() - started
    if seconds is not None:
        metrics.HTTP_SECONDS.labels(method, route).observe(seconds)
    if status == 429:
        handler = scope.get("route_handler")
        limit = handler.opt.get(RATE_LIMIT) if handler is not None else None
        metrics.RATE_LIMIT_REFUSALS.labels(limit or "other").inc()
    if status < 400 and route.startswith(QUIET_ROUTES):
        return
    log.info(
        "request",
        extra={
            "request_id": request_id_of(scope),
            "method": method,
            "route": route,
            "path": scope["path"],
            "status": status,
            "duration_ms": None if seconds is None else round(seconds * 1000, 2),
        },
    )
