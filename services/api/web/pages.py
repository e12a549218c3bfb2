"""Reader pages: the comparison list, a comparison, the reader's bookmarks, problem docs."""

from __future__ import annotations

from typing import Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromQuery
from litestar.response import Template

from services.core import read_models
from services.core.clock import Clock
from services.core.reader_state import reader_state
from services.core.store import Pool

from ..params import SlugPath, SlugQuery
from ..problems import PROBLEMS
from .chart import ship_chart

Done = Literal["vote", "withdrawn", "bookmarked", "unbookmarked"]
"""What a form's redirect says was done: the notice the page shows."""


def _notice(done: Done | None, tool_name: str | None, verdict: str | None) -> str | None:
    """The confirmation shown after a form's redirect; built from state, never echoed."""
    if tool_name is None:
        return None
    match done:
        case "vote" if verdict:
            return f"Your vote is in: {verdict} {tool_name}."
        case "vote" | "withdrawn":
            return f"Your vote on {tool_name} was withdrawn."
        case "bookmarked":
            return f"{tool_name} is in your bookmarks."
        case "unbookmarked":
            return f"{tool_name} was removed from your bookmarks."
    return None


class PagesController(Controller):
    @get("/", name="index")
    async def index(self, pool: NamedDependency[Pool]) -> Template:
        """Comparisons, newest first: both tools, the panel verdict and the community tally."""
        async with pool.acquire() as conn:
            comparisons = await read_models.list_comparisons(conn)
        return Template("index.html", context={"comparisons": comparisons})

    @get("/compare/{slug:str}", name="compare")
    async def compare(
        self,
        pool: NamedDependency[Pool],
        clock: NamedDependency[Clock],
        reader_id: NamedDependency[str],
        slug: SlugPath,
        done: FromQuery[Done | None] = None,
        tool: SlugQuery = None,
    ) -> Template:
        """One comparison, side by side, with the reader's votes and bookmarks."""
        today = clock().date()
        async with pool.acquire() as conn:
            comparison, history = await read_models.comparison_with_history(conn, slug, today=today)
            state = await reader_state(conn, reader_id)
        names = {s.tool.slug: s.tool.name for s in comparison.sides}
        standing = state.votes_in(slug)
        notice = _notice(done, names.get(tool or ""), standing.get(tool or ""))
        return Template(
            "compare.html",
            context={
                "comparison": comparison,
                "chart": ship_chart(history, names, today),
                "standing": standing,
                "bookmarked": set(state.bookmarks),
                "notice": notice,
            },
        )

    @get("/bookmarks", name="bookmarks")
    async def bookmarks(
        self,
        pool: NamedDependency[Pool],
        reader_id: NamedDependency[str],
        done: FromQuery[Done | None] = None,
        tool: SlugQuery = None,
    ) -> Template:
        """The reader's bookmarked tools, each with the comparisons it appears in."""
        async with pool.acquire() as conn:
            bookmarks = await read_models.bookmarks_of(conn, reader_id)
            names = {b.tool.slug: b.tool.name for b in bookmarks}
            if tool and tool not in names:  # the notice of a removal names a tool gone
                names.update(
                    {t.slug: t.name for t in await read_models.bookmarked_tools(conn, [tool])}
                )
        notice = _notice(done, names.get(tool or ""), None)
        return Template(
            "bookmarks.html",
            context={
                "tools": [b.tool for b in bookmarks],
                "appears": {
                    b.tool.slug: [(c.slug, c.title) for c in b.comparisons] for b in bookmarks
                },
                "notice": notice,
            },
        )

    @get("/problems/{name:str}", name="problem")
    async def problem(self, name: SlugPath) -> Template:
        """What each problem ``type`` of the API means."""
        kind = PROBLEMS.get(name)
        if kind is None:
            raise NotFoundException()
        return Template("problem.html", context={"kind": kind})
