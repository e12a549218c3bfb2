"""The JSON API, ``/api/v1``: problem details for every error."""

from __future__ import annotations

from litestar import Router

from ..error_handlers import handlers, problem_response
from .bookmarks import BookmarksController
from .comparisons import ComparisonsController
from .json_request import JSONRequest
from .subscriptions import SubscriptionsController

API_PATH = "/api/v1"


def api_router() -> Router:
    return Router(
        path=API_PATH,
        route_handlers=[ComparisonsController, BookmarksController, SubscriptionsController],
        exception_handlers=handlers(problem_response),
        request_class=JSONRequest,
    )
