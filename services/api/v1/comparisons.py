"""``/api/v1/comparisons``: list, detail, tallies (now or as of a time), votes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, QueryParameter

from services.core import read_models, reader_actions, tallies
from services.core.clock import Clock
from services.core.reader_actions import VoteOutcome
from services.core.reader_state import reader_state
from services.core.store import IdempotentRequest, Pool
from services.core.tallies import NO_VOTES

from ..problems import problem_responses
from ..security import RATE_LIMIT, VOTES
from .schemas import (
    ComparisonDetail,
    ComparisonList,
    ReaderStanding,
    SlugPath,
    TallyReport,
    VoteRequest,
    VoteResult,
)

AsOf = Annotated[
    datetime | None,
    QueryParameter(
        name="as_of",
        description="ISO 8601 time with a zone offset; tallies as they stood then.",
    ),
]


def _vote_result(outcome: VoteOutcome, slug: str, tool: str) -> VoteResult:
    verdict = outcome.state.vote(slug, tool)
    return VoteResult(comparison=slug, tool=tool, verdict=verdict, tally=outcome.tally)


class ComparisonsController(Controller):
    path = "/comparisons"
    tags = ("comparisons",)

    @get("/")
    async def list_comparisons(self, pool: NamedDependency[Pool]) -> ComparisonList:
        """Live comparisons, newest first, with panel and community summaries."""
        async with pool.acquire() as conn:
            return ComparisonList(comparisons=await read_models.list_comparisons(conn))

    @get("/{slug:str}", responses=problem_responses(400, 404))
    async def get_comparison(
        self,
        pool: NamedDependency[Pool],
        clock: NamedDependency[Clock],
        reader_id: NamedDependency[str],
        slug: SlugPath,
    ) -> ComparisonDetail:
        """Both tools, the panel, community tallies and the caller's votes and bookmarks."""
        async with pool.acquire() as conn:
            comparison, history = await read_models.comparison_with_history(
                conn, slug, today=clock().date()
            )
            state = await reader_state(conn, reader_id)
        tools = list(comparison.tools)
        standing = ReaderStanding(
            votes=state.votes_in(slug),
            bookmarked=[t for t in tools if t in state.bookmarks],
        )
        return ComparisonDetail(comparison=comparison, history=history, reader=standing)

    @get("/{slug:str}/tally", responses=problem_responses(400, 404))
    async def get_tally(
        self, pool: NamedDependency[Pool], slug: SlugPath, as_of: AsOf = None
    ) -> TallyReport:
        """Standing community votes per tool; with ``as_of``, recomputed from the log."""
        if as_of is not None and as_of.tzinfo is None:
            raise ValidationException("as_of needs a time zone offset, e.g. 2026-11-20T12:00Z")
        async with pool.acquire() as conn:
            tools = await read_models.comparison_tools(conn, slug)
            if as_of is None:
                found = await tallies.current(conn, [(slug, t) for t in tools])
            else:
                found = await tallies.recompute(conn, comparison=slug, as_of=as_of)
        return TallyReport(
            comparison=slug,
            as_of=as_of,
            tallies={t: found.get((slug, t), NO_VOTES) for t in tools},
        )

    @put(
        "/{slug:str}/votes/{tool:str}",
        opt={RATE_LIMIT: VOTES},
        responses=problem_responses(400, 403, 404, 409, 413, 422, 429),
    )
    async def cast_vote(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        request_id: NamedDependency[str],
        slug: SlugPath,
        tool: SlugPath,
        data: JSONBody[VoteRequest],
        idempotency: NamedDependency[IdempotentRequest | None],
    ) -> VoteResult:
        """Make ``verdict`` the caller's standing vote on the tool (voting again changes it)."""
        outcome = await reader_actions.cast_vote(
            pool,
            reader_id,
            slug,
            tool,
            data.verdict,
            idempotency=idempotency,
            request_id=request_id,
        )
        return _vote_result(outcome, slug, tool)

    @delete(
        "/{slug:str}/votes/{tool:str}",
        status_code=200,
        opt={RATE_LIMIT: VOTES},
        responses=problem_responses(400, 403, 404, 409, 422, 429),
    )
    async def withdraw_vote(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        request_id: NamedDependency[str],
        slug: SlugPath,
        tool: SlugPath,
        idempotency: NamedDependency[IdempotentRequest | None],
    ) -> VoteResult:
        """Withdraw the caller's vote on the tool; withdrawing no vote changes nothing."""
        outcome = await reader_actions.withdraw_vote(
            pool,
            reader_id,
            slug,
            tool,
            idempotency=idempotency,
            request_id=request_id,
        )
        return _vote_result(outcome, slug, tool)
