"""``/api/v1/bookmarks``: the calling reader's bookmarked tools."""

from __future__ import annotations

from litestar import Controller, delete, get, put
from litestar.di import NamedDependency

from services.core import read_models, reader_actions
from services.core.reader_state import ReaderState
from services.core.store import IdempotentRequest, Pool

from ..problems import problem_responses
from ..security import BOOKMARKS, RATE_LIMIT
from .schemas import BookmarkList, SlugPath


async def _bookmarks(pool: Pool, state: ReaderState) -> BookmarkList:
    async with pool.acquire() as conn:
        return BookmarkList(tools=await read_models.bookmarked_tools(conn, state.bookmarks))


class BookmarksController(Controller):
    path = "/bookmarks"
    tags = ("bookmarks",)

    @get("/")
    async def list_bookmarks(
        self, pool: NamedDependency[Pool], reader_id: NamedDependency[str]
    ) -> BookmarkList:
        """The caller's bookmarked tools, oldest bookmark first."""
        async with pool.acquire() as conn:
            bookmarks = await read_models.bookmarks_of(conn, reader_id)
        return BookmarkList(tools=[b.tool for b in bookmarks])

    @put(
        "/{tool:str}",
        opt={RATE_LIMIT: BOOKMARKS},
        responses=problem_responses(400, 403, 404, 409, 422, 429),
    )
    async def add_bookmark(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        request_id: NamedDependency[str],
        tool: SlugPath,
        idempotency: NamedDependency[IdempotentRequest | None],
    ) -> BookmarkList:
        """Bookmark a tool; bookmarking it again changes nothing."""
        state = await reader_actions.set_bookmark(
            pool, reader_id, tool, True, idempotency=idempotency, request_id=request_id
        )
        return await _bookmarks(pool, state)

    @delete(
        "/{tool:str}",
        status_code=200,
        opt={RATE_LIMIT: BOOKMARKS},
        responses=problem_responses(400, 403, 404, 409, 422, 429),
    )
    async def remove_bookmark(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        request_id: NamedDependency[str],
        tool: SlugPath,
        idempotency: NamedDependency[IdempotentRequest | None],
    ) -> BookmarkList:
        """Remove a bookmark; removing one that is not there changes nothing."""
        state = await reader_actions.set_bookmark(
            pool, reader_id, tool, False, idempotency=idempotency, request_id=request_id
        )
        return await _bookmarks(pool, state)
