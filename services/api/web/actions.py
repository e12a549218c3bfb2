"""Reader form posts: vote, change or withdraw a vote, bookmark. Each redirects back (303)."""

from __future__ import annotations

import re

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.params import FromPath, URLEncodedBody
from litestar.response import Redirect

from services.core import reader_actions
from services.core.events import Verdict
from services.core.store import Pool

from ..security import BOOKMARKS, RATE_LIMIT, VOTES

_SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class VoteForm(msgspec.Struct, frozen=True, kw_only=True):
    # Permissive on purpose: a bad value gets our error page, not a framework one.
    verdict: str = ""


class BookmarkForm(msgspec.Struct, frozen=True, kw_only=True):
    action: str = ""
    back: str = ""


def _back(back: str, done: str, tool: str) -> Redirect:
    """Back to the comparison the form was on, or to the bookmarks page; never elsewhere."""
    path = f"/compare/{back}" if back != "bookmarks" and _SLUG.match(back) else "/bookmarks"
    return Redirect(path, query_params={"done": done, "tool": tool}, status_code=303)


class ActionsController(Controller):
    @post("/compare/{slug:str}/votes/{tool:str}", opt={RATE_LIMIT: VOTES}, name="vote")
    async def vote(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        request_id: NamedDependency[str],
        slug: FromPath[str],
        tool: FromPath[str],
        data: URLEncodedBody[VoteForm],
    ) -> Redirect:
        """Ship, skip (voting again changes the vote) or withdraw."""
        if data.verdict == "withdraw":
            await reader_actions.withdraw_vote(pool, reader_id, slug, tool, request_id=request_id)
            return _back(slug, "withdrawn", tool)
        if data.verdict not in ("ship", "skip"):
            raise ValidationException("Choose ship, skip or withdraw.")
        verdict: Verdict = "ship" if data.verdict == "ship" else "skip"
        await reader_actions.cast_vote(pool, reader_id, slug, tool, verdict, request_id=request_id)
        return _back(slug, "vote", tool)

    @post("/bookmarks/{tool:str}", opt={RATE_LIMIT: BOOKMARKS}, name="bookmark")
    async def bookmark(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        request_id: NamedDependency[str],
        tool: FromPath[str],
        data: URLEncodedBody[BookmarkForm],
    ) -> Redirect:
        """Add or remove a bookmark."""
        if data.action not in ("add", "remove"):
            raise ValidationException("Choose add or remove.")
        add = data.action == "add"
        await reader_actions.set_bookmark(pool, reader_id, tool, add, request_id=request_id)
        return _back(data.back, "bookmarked" if add else "unbookmarked", tool)
