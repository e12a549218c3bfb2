"""The panel's verdict on one tool of a comparison, computed once for pages, the API
and the digest: "Ship · 4 ship / 0 skip", ship %, average score and each review."""

from __future__ import annotations

from typing import Literal

import msgspec

from .events import Reviewer, Verdict
from .projections.catalog import ComparisonDoc

REVIEWER_ORDER: tuple[Reviewer, ...] = ("builder", "skeptic", "founder", "futurist")

PanelVerdict = Literal["ship", "skip", "split"]


class PanelReview(msgspec.Struct, frozen=True, kw_only=True):
    """One reviewer persona's verdict on one tool."""

    reviewer: Reviewer
    score: int
    verdict: Verdict
    text: str


class Panel(msgspec.Struct, frozen=True, kw_only=True):
    """The panel's verdict on one tool (``None`` without reviews): the majority of its
    reviewers' verdicts, ``split`` on a tie."""

    verdict: PanelVerdict | None
    ship: int
    skip: int
    ship_pct: int | None
    score: int | None
    """The reviewers' average score out of 100."""
    reviews: list[PanelReview]


def panel_for(doc: ComparisonDoc, tool: str) -> Panel:
    """The panel of ``tool`` in a comparison's ``doc``, reviewers in their fixed order."""
    mine = sorted(
        (r for r in doc.reviews if r.tool == tool), key=lambda r: REVIEWER_ORDER.index(r.reviewer)
    )
    ship = sum(r.verdict == "ship" for r in mine)
    skip = len(mine) - ship
    verdict: PanelVerdict | None = None
    if mine:
        verdict = "ship" if ship > skip else "skip" if skip > ship else "split"
    return Panel(
        verdict=verdict,
        ship=ship,
        skip=skip,
        ship_pct=round(100 * ship / len(mine)) if mine else None,
        score=round(sum(r.score for r in mine) / len(mine)) if mine else None,
        reviews=[
            PanelReview(reviewer=r.reviewer, score=r.score, verdict=r.verdict, text=r.text)
            for r in mine
        ],
    )
