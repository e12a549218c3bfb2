"""One error policy per audience: problem details under ``/api/v1``, pages elsewhere."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from services.core.errors import VerdictsError

from .problems import PROBLEM_MEDIA_TYPE, Problem, explain

API_PREFIX = "/api/"


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    """RFC 9457 problem details with the problem's stable ``type``."""
    explained = explain(exc)
    return Response(
        explained.problem(),
        status_code=explained.kind.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=explained.headers,
    )


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Template:
    """A readable page that says what happened and where to go next."""
    explained = explain(exc)
    return Template(
        template_name="error.html",
        context={"problem": explained.problem(), "help": explained.kind.help},
        status_code=explained.kind.status,
        headers=explained.headers,
    )


def unrouted(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors before routing (unknown path, wrong method): answer in the path's dialect."""
    if request.url.path.startswith(API_PREFIX):
        return problem_response(request, exc)
    return error_page(request, exc)


def handlers(handler: Any) -> ExceptionHandlersMap:
    """Route every error, expected or not, to ``handler``."""
    return {HTTPException: handler, VerdictsError: handler, Exception: handler}
