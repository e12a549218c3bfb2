"""What can go wrong, once: each problem has a stable ``type``, a status and words for
people. The JSON API answers with RFC 9457 problem details, the web with a page; both
come from ``explain`` so they never disagree.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus

import msgspec
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

from services.core.db import RETRY_AFTER_SECONDS, outage
from services.core.errors import (
    ComparisonWithdrawnError,
    IdempotencyKeyReusedError,
    InvalidEmailError,
    InvalidTokenError,
    StreamVersionConflictError,
    ToolNotInComparisonError,
    UnknownComparisonError,
    UnknownSubscriberError,
    UnknownToolError,
)

from .limiter import NewReaderLimitError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    help: str

    @property
    def uri(self) -> str:
        return self.slug if self.slug == "about:blank" else f"/problems/{self.slug}"


_TYPES = (
    ProblemType("invalid-request", 400, "The request is not valid",
                "A parameter or the body does not have the expected shape. `errors` says which."),
    ProblemType("invalid-link", 400, "This link is not valid",
                "The link was altered or cut short. Copy the whole link from the email."),
    ProblemType("csrf-failed", 403, "The form expired",
                "Unsafe requests need the `csrftoken` cookie echoed in the `X-CSRFToken` header "
                "(or the `_csrf_token` form field). Reload the page and try again."),
    ProblemType("not-found", 404, "Page not found", "Nothing lives at this address."),
    ProblemType("unknown-comparison", 404, "No such comparison",
                "No comparison has this slug. The comparison list has every live one."),
    ProblemType("unknown-tool", 404, "No such tool", "No tool in the catalog has this slug."),
    ProblemType("unknown-subscriber", 404, "No such subscription",
                "The link names a subscription that does not exist."),
    ProblemType("method-not-allowed", 405, "Method not allowed",
                "This address does not accept that HTTP method."),
    ProblemType("comparison-withdrawn", 409, "This comparison was withdrawn",
                "A withdrawn comparison keeps its history but takes no more votes."),
    ProblemType("conflict", 409, "Busy, please try again",
                "Your change collided with another one made at the same moment. Nothing was "
                "saved; sending it again is safe."),
    ProblemType("link-expired", 410, "This link has expired",
                "Confirmation links last three days. Subscribe again to get a fresh one."),
    ProblemType("body-too-large", 413, "Request too large", "The request body is over the limit."),
    ProblemType("tool-not-in-comparison", 422, "That tool is not in this comparison",
                "Votes are per tool within a comparison; pick one of its two tools."),
    ProblemType("invalid-email", 422, "That email address does not look right",
                "Check the address for typos; it needs a name, an @ and a domain."),
    ProblemType("idempotency-key-reused", 422, "This Idempotency-Key belongs to another request",
                "An `Idempotency-Key` names one request: a retry sends the same method, path "
                "and body with it and gets the first one's effect once. Another request needs "
                "a key of its own. Nothing was done. Keys are kept for 24 hours."),
    ProblemType("rate-limited", 429, "Too many requests",
                "Slow down a little: this client sent too many of these requests. "
                "`Retry-After` says when to try again."),
    ProblemType("new-reader-limit", 429, "Too many new readers from your network",
                "Voting and bookmarking need the reader cookie from an earlier visit, and this "
                "network has started as many new readers as an hour allows. Pages still work; "
                "allow cookies, or try again when `Retry-After` says."),
    ProblemType("internal-error", 500, "Something went wrong on our side",
                "Nothing you did. It has been logged; please try again shortly."),
    ProblemType("database-unavailable", 503, "Back in a moment",
                "Our database is restarting or cannot be reached. What you sent may not have "
                "been saved; sending it again is safe. `Retry-After` says when to try."),
)  # fmt: skip

PROBLEMS = {p.slug: p for p in _TYPES}


class FieldProblem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    message: str
    key: str | None = None
    source: str | None = None


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblem] | None = None


@dataclass(frozen=True, slots=True)
class Explained:
    kind: ProblemType
    detail: str | None
    headers: dict[str, str]
    errors: list[FieldProblem] | None = None

    def problem(self) -> Problem:
        return Problem(
            type=self.kind.uri,
            title=self.kind.title,
            status=self.kind.status,
            detail=self.detail,
            errors=self.errors,
        )


_BY_STATUS = {400: "invalid-request", 403: "csrf-failed", 404: "not-found",
              405: "method-not-allowed", 413: "body-too-large", 429: "rate-limited"}  # fmt: skip


def _validation_errors(exc: ValidationException) -> list[FieldProblem] | None:
    if not isinstance(exc.extra, list):
        return None
    out = []
    for item in exc.extra:
        if isinstance(item, dict):
            out.append(
                FieldProblem(
                    message=str(item.get("message", "")),
                    key=str(item["key"]) if item.get("key") is not None else None,
                    source=str(item["source"]) if item.get("source") is not None else None,
                )
            )
    return out or None


def _rate_limit_headers(exc: HTTPException) -> dict[str, str]:
    headers = dict(exc.headers or {})
    if "RateLimit-Reset" in headers:
        headers["Retry-After"] = headers["RateLimit-Reset"]
    return headers


_BY_ERROR: dict[type[Exception], str] = {
    UnknownComparisonError: "unknown-comparison",
    UnknownToolError: "unknown-tool",
    ToolNotInComparisonError: "tool-not-in-comparison",
    InvalidEmailError: "invalid-email",
    ComparisonWithdrawnError: "comparison-withdrawn",
    IdempotencyKeyReusedError: "idempotency-key-reused",
}
"""Domain errors whose message is the detail readers see."""

_WITHOUT_DETAIL: dict[type[Exception], str] = {
    StreamVersionConflictError: "conflict",
    UnknownSubscriberError: "unknown-subscriber",
}
"""Domain errors whose message is not for readers."""


def explain(exc: Exception) -> Explained:
    """The problem an exception stands for; unexpected exceptions are logged here."""
    if (slug := _BY_ERROR.get(type(exc))) is not None:
        return Explained(PROBLEMS[slug], str(exc), {})
    if (slug := _WITHOUT_DETAIL.get(type(exc))) is not None:
        return Explained(PROBLEMS[slug], None, {})
    match exc:
        case InvalidTokenError(expired=True):
            return Explained(PROBLEMS["link-expired"], str(exc), {})
        case InvalidTokenError():
            return Explained(PROBLEMS["invalid-link"], str(exc), {})
        case NewReaderLimitError():
            return Explained(PROBLEMS["new-reader-limit"], None, _rate_limit_headers(exc))
        case ValidationException():
            return Explained(
                PROBLEMS["invalid-request"], exc.detail, {}, errors=_validation_errors(exc)
            )
        case HTTPException() if exc.status_code in _BY_STATUS:
            kind = PROBLEMS[_BY_STATUS[exc.status_code]]
            detail = exc.detail if exc.status_code == 400 else None
            return Explained(kind, detail, _rate_limit_headers(exc))
        case HTTPException() if exc.status_code < 500:
            # RFC 9457: with "about:blank" the title is the status phrase.
            generic = ProblemType(
                "about:blank", exc.status_code, HTTPStatus(exc.status_code).phrase, ""
            )
            return Explained(generic, exc.detail, dict(exc.headers or {}))
    if (down := outage(exc)) is not None:
        log.warning("answering 503: %s", down)
        return Explained(
            PROBLEMS["database-unavailable"], None, {"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    log.error("unhandled error", exc_info=exc)
    return Explained(PROBLEMS["internal-error"], None, {})


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI ``responses`` for a handler: the problem details it may answer with."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
            description="; ".join(f"`{p.uri}`: {p.title}" for p in _TYPES if p.status == status),
        )
        for status in statuses
    }
