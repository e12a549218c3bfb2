"""The panel's verdict on one tool: reviewers in their fixed order, the majority verdict
("split" on a tie, None without reviews), ship % and the average score, rounded to the
nearest whole number."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.catalog_import import DEMO_CATALOG, load_catalog
from services.core.events import Review, Reviewer, SideNotes, Verdict
from services.core.panel import REVIEWER_ORDER, PanelReview, panel_for
from services.core.projections.catalog import ComparisonDoc

A, B = "tool-a", "tool-b"
SIDES = (
    SideNotes(tool=A, pricing_read="free", best_for="everyone"),
    SideNotes(tool=B, pricing_read="paid", best_for="no one"),
)


def doc(*reviews: Review) -> ComparisonDoc:
    return ComparisonDoc(sides=SIDES, reviews=reviews)


def review(tool: str, reviewer: Reviewer, score: int, verdict: Verdict) -> Review:
    return Review(tool=tool, reviewer=reviewer, score=score, verdict=verdict, text=f"{reviewer}")


reviews = st.builds(
    Review,
    tool=st.sampled_from([A, B]),
    reviewer=st.sampled_from(REVIEWER_ORDER),
    score=st.integers(0, 100),
    verdict=st.sampled_from(["ship", "skip"]),
    text=st.text(min_size=1, max_size=10),
)


def nearest(value: Fraction) -> int:
    """The nearest whole number; an exact half goes to the even neighbour."""
    whole, rest = divmod(value, 1)
    if rest != Fraction(1, 2):
        return int(whole) + (rest > Fraction(1, 2))
    return int(whole) + int(whole) % 2


@settings(max_examples=50, deadline=None)
@given(all_reviews=st.lists(reviews, max_size=10), tool=st.sampled_from([A, B]))
def test_panel_of_any_review_set(all_reviews: list[Review], tool: str) -> None:
    panel = panel_for(doc(*all_reviews), tool)
    mine = [r for r in all_reviews if r.tool == tool]
    # Reviewers in their fixed order; one reviewer's reviews in the order published.
    in_order = [r for who in REVIEWER_ORDER for r in mine if r.reviewer == who]
    assert panel.reviews == [
        PanelReview(reviewer=r.reviewer, score=r.score, verdict=r.verdict, text=r.text)
        for r in in_order
    ]
    ship = sum(1 for r in mine if r.verdict == "ship")
    skip = len(mine) - ship
    assert (panel.ship, panel.skip) == (ship, skip)
    if not mine:
        assert (panel.verdict, panel.ship_pct, panel.score) == (None, None, None)
        return
    expected = "ship" if ship > skip else "skip" if skip > ship else "split"
    assert panel.verdict == expected
    assert panel.ship_pct == nearest(Fraction(100 * ship, len(mine)))
    assert panel.score == nearest(Fraction(sum(r.score for r in mine), len(mine)))
    assert panel.score is not None and panel.ship_pct is not None
    assert abs(panel.score - Fraction(sum(r.score for r in mine), len(mine))) <= Fraction(1, 2)
    assert 0 <= panel.ship_pct <= 100


def test_no_reviews_no_verdict() -> None:
    panel = panel_for(doc(review(B, "builder", 90, "ship")), A)
    assert panel.verdict is None
    assert (panel.ship, panel.skip, panel.ship_pct, panel.score) == (0, 0, None, None)
    assert panel.reviews == []


def test_reviewers_come_in_their_fixed_order_whatever_the_file_says() -> None:
    panel = panel_for(
        doc(
            review(A, "futurist", 70, "ship"),
            review(B, "builder", 10, "skip"),
            review(A, "founder", 60, "skip"),
            review(A, "builder", 80, "ship"),
            review(A, "skeptic", 40, "skip"),
        ),
        A,
    )
    assert [r.reviewer for r in panel.reviews] == ["builder", "skeptic", "founder", "futurist"]
    assert [r.score for r in panel.reviews] == [80, 40, 60, 70]


@pytest.mark.parametrize(
    ("verdicts", "verdict", "ship_pct"),
    [
        (("ship", "ship", "ship", "ship"), "ship", 100),
        (("ship", "ship", "ship", "skip"), "ship", 75),
        (("ship", "ship", "skip", "skip"), "split", 50),
        (("ship", "skip", "skip"), "skip", 33),
        (("ship", "ship", "skip"), "ship", 67),
        (("skip",), "skip", 0),
        (("ship", "skip"), "split", 50),
    ],
)
def test_majority_verdict_and_ship_pct(
    verdicts: tuple[Verdict, ...], verdict: str, ship_pct: int
) -> None:
    panel = panel_for(
        doc(*(review(A, who, 50, v) for who, v in zip(REVIEWER_ORDER, verdicts, strict=False))), A
    )
    assert (panel.verdict, panel.ship_pct) == (verdict, ship_pct)


@pytest.mark.parametrize(
    ("scores", "score"),
    [
        ((86, 76, 82, 84), 82),
        ((80, 81, 81, 81), 81),  # 80.75
        ((80, 80, 80, 81), 80),  # 80.25
        ((88, 82, 79, 85), 84),  # 83.5: ties go to the even neighbour
        ((78, 72, 81, 75), 76),  # 76.5: ... so this one goes down (Python's round)
        ((0, 0, 0, 1), 0),
        ((100, 100, 100, 100), 100),
    ],
)
def test_average_score_rounds_to_the_nearest_whole_number(
    scores: tuple[int, ...], score: int
) -> None:
    panel = panel_for(
        doc(*(review(A, who, s, "ship") for who, s in zip(REVIEWER_ORDER, scores, strict=True))), A
    )
    assert panel.score == score


def test_demo_catalog_panels() -> None:
    catalog = load_catalog(DEMO_CATALOG)
    by_slug = {c.slug: c for c in catalog.comparisons}
    mistral = by_slug["azure-ai-foundry-voice-router-vs-mistral-4b-edge"]
    panel = panel_for(
        ComparisonDoc(sides=mistral.sides, reviews=mistral.reviews), "mistral-4b-edge"
    )
    # builder 85 ship, skeptic 78 ship, founder 52 skip, futurist 82 ship
    assert (panel.verdict, panel.ship, panel.skip, panel.ship_pct, panel.score) == (
        "ship",
        3,
        1,
        75,
        74,
    )
    assert [(r.reviewer, r.verdict) for r in panel.reviews] == [
        ("builder", "ship"),
        ("skeptic", "ship"),
        ("founder", "skip"),
        ("futurist", "ship"),
    ]
