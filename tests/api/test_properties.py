"""Invariants of the web layer, for any input Hypothesis can think of."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.reader_cookie import ReaderCookies
from services.api.web.actions import _back
from services.api.web.chart import HEIGHT, WIDTH, ship_chart
from services.core.read_models import HISTORY_DAYS, HistoryPoint, ToolHistory
from services.core.tallies import Tally

COOKIES = ReaderCookies("property-secret", secure=False)


@given(st.text())
def test_form_redirects_never_leave_the_site(back: str) -> None:
    location = _back(back, "bookmarked", "some-tool").url
    assert location.startswith(("/compare/", "/bookmarks?"))
    path = location.split("?", 1)[0]
    assert "//" not in path and ".." not in path and "\\" not in path


@given(st.uuids())
def test_a_signed_reader_id_reads_back(reader: uuid.UUID) -> None:
    value = COOKIES.cookie(str(reader)).value
    assert value is not None
    assert COOKIES.read(value) == str(reader)


@given(st.uuids(), st.data())
def test_a_tampered_reader_cookie_is_nobody(reader: uuid.UUID, data: st.DataObject) -> None:
    value = COOKIES.cookie(str(reader)).value
    assert value is not None
    # Tamper with the signed id (the signature's last base64 digit has don't-care bits).
    i = data.draw(st.integers(0, len(str(reader)) - 1))
    c = data.draw(st.characters(codec="ascii").filter(lambda c: c != value[i]))
    assert COOKIES.read(value[:i] + c + value[i + 1 :]) is None


@given(st.text())
def test_made_up_reader_cookies_are_nobody(value: str) -> None:
    assert COOKIES.read(value) is None


day_changes = st.lists(
    st.tuples(st.integers(0, 40), st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=12
)


@given(day_changes, day_changes)
def test_chart_stays_inside_its_box_and_ends_at_the_current_pct(
    a: list[tuple[int, int, int]], b: list[tuple[int, int, int]]
) -> None:
    start = date(2026, 11, 1)

    def history(tool: str, changes: list[tuple[int, int, int]]) -> ToolHistory:
        points = []
        for offset, ship, skip in sorted({c[0]: c for c in changes}.values()):
            t = Tally.of(ship, skip)
            points.append(
                HistoryPoint(
                    day=start + timedelta(days=offset), ship=ship, skip=skip, ship_pct=t.ship_pct
                )
            )
        return ToolHistory(tool=tool, points=points)

    histories = [history("a", a), history("b", b)]
    chart = ship_chart(histories, {"a": "A", "b": "B"}, start + timedelta(days=41))
    assert chart is not None
    drawn = {s.tool: s for s in chart.series}
    for h in histories:
        known = [p for p in h.points if p.ship_pct is not None]
        assert (h.tool in drawn) == bool(known)
        if known:
            assert drawn[h.tool].last_pct == known[-1].ship_pct
    for series in chart.series:
        for segment in series.segments:
            for point in segment.split():
                x, y = map(float, point.split(","))
                assert 0 <= x <= WIDTH and 0 <= y <= HEIGHT
                assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom


@given(
    st.integers(0, HISTORY_DAYS - 1),
    st.tuples(st.integers(0, 3), st.integers(0, 3)).filter(lambda t: sum(t) > 0),
)
def test_votes_of_one_day_are_drawn_from_that_day_to_today_only(
    days_ago: int, tally: tuple[int, int]
) -> None:
    """The plot spans the last HISTORY_DAYS days whatever was measured: one day of votes is
    a mark from that day to the end of today (a thirtieth of the width for today's), never
    a line across the whole chart."""
    today = date(2026, 11, 24)
    ship, skip = tally
    point = HistoryPoint(
        day=today - timedelta(days=days_ago),
        ship=ship,
        skip=skip,
        ship_pct=Tally.of(ship, skip).ship_pct,
    )
    chart = ship_chart([ToolHistory(tool="a", points=[point])], {"a": "A"}, today)
    assert chart is not None
    [series] = chart.series
    [segment] = series.segments
    (x0, y0), (x1, y1) = (map(float, p.split(",")) for p in segment.split())
    assert y0 == y1 and x1 == chart.right == series.last_x
    assert x1 - x0 == pytest.approx(WIDTH * (days_ago + 1) / HISTORY_DAYS, abs=0.1)
