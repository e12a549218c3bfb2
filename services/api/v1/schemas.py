"""Request and response bodies of ``/api/v1`` (read models: ``services.core.read_models``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar.params import HeaderParameter

from services.core.events import Tool, Verdict
from services.core.read_models import (
    Comparison,
    ComparisonSummary,
    ToolHistory,
)
from services.core.tallies import Tally

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        # Printable ASCII: the key is stored as text, and PostgreSQL refuses a NUL in text.
        pattern=r"^[\x20-\x7e]+$",
        min_length=1,
        max_length=200,
        description="Send the same key when retrying: the action is then done at most once.",
    ),
]


class ComparisonList(msgspec.Struct, frozen=True, kw_only=True):
    comparisons: list[ComparisonSummary]


class ReaderStanding(msgspec.Struct, frozen=True, kw_only=True):
    """The calling reader's standing votes (tool -> verdict) and bookmarks in a comparison."""

    votes: dict[str, Verdict]
    bookmarked: list[str]


class ComparisonDetail(msgspec.Struct, frozen=True, kw_only=True):
    comparison: Comparison
    history: list[ToolHistory]
    reader: ReaderStanding


class TallyReport(msgspec.Struct, frozen=True, kw_only=True):
    """Community tallies per tool, now or as they stood at ``as_of``."""

    comparison: str
    as_of: datetime | None
    tallies: dict[str, Tally]


class VoteRequest(msgspec.Struct, frozen=True, kw_only=True):
    verdict: Verdict


class VoteResult(msgspec.Struct, frozen=True, kw_only=True):
    """The reader's standing vote on the tool after the request (``null``: none) and its tally."""

    comparison: str
    tool: str
    verdict: Verdict | None
    tally: Tally


class BookmarkList(msgspec.Struct, frozen=True, kw_only=True):
    tools: list[Tool]


class SubscriptionRequest(msgspec.Struct, frozen=True, kw_only=True):
    email: Annotated[str, msgspec.Meta(max_length=320)]


class SubscriptionAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """Always the same answer, whether or not the address was already subscribed."""

    status: Literal["check-your-inbox"]
    detail: str
