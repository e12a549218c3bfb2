"""Server-rendered reader pages and forms (they work with JavaScript off): an HTML error
page for every error."""

from __future__ import annotations

from litestar import Router

from ..error_handlers import error_page, handlers
from .actions import ActionsController
from .pages import PagesController
from .subscribe import SubscribeController


def web_router() -> Router:
    return Router(
        path="/",
        route_handlers=[PagesController, ActionsController, SubscribeController],
        exception_handlers=handlers(error_page),
        include_in_schema=False,
    )
