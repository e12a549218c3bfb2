"""Geometry for the community ship % chart, drawn as inline SVG by the template (no JS)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.core.read_models import HistoryPoint, ToolHistory

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 26


@dataclass(frozen=True, slots=True)
class Series:
    tool: str
    name: str
    css_class: str
    segments: list[str]  # SVG polyline ``points``; a gap where no vote stood
    last_x: float
    last_y: float
    last_pct: int


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    right: float
    top: int
    bottom: float
    grid: list[tuple[float, str]]  # y, label
    x_labels: list[tuple[float, str, str]]  # x, label, text-anchor
    series: list[Series]
    description: str


def _x(day: date, start: date, span: int) -> float:
    return LEFT + (WIDTH - LEFT - RIGHT) * (day - start).days / span


def _y(pct: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (100 - pct) / 100


def _segments(points: list[HistoryPoint], start: date, end: date, span: int) -> list[str]:
    """Step lines: a day's ship % holds until the next day that changed it."""
    segments: list[str] = []
    current: list[str] = []
    for i, p in enumerate(points):
        until = points[i + 1].day if i + 1 < len(points) else end
        if p.ship_pct is None:
            if current:
                segments.append(" ".join(current))
                current = []
            continue
        y = _y(p.ship_pct)
        current.append(f"{_x(p.day, start, span):.1f},{y:.1f}")
        current.append(f"{_x(until, start, span):.1f},{y:.1f}")
    if current:
        segments.append(" ".join(current))
    return segments


def ship_chart(histories: list[ToolHistory], names: dict[str, str], today: date) -> Chart | None:
    """The chart of each tool's community ship % by day, or ``None`` before any vote."""
    days = [p.day for h in histories for p in h.points]
    if not days:
        return None
    start = min(days)
    end = max(max(days), today) + timedelta(days=1)
    span = (end - start).days
    series = []
    summary = []
    for i, h in enumerate(histories):
        known = [p for p in h.points if p.ship_pct is not None]
        if not known:
            continue
        last = known[-1]
        assert last.ship_pct is not None
        series.append(
            Series(
                tool=h.tool,
                name=names[h.tool],
                css_class=f"series-{'ab'[i % 2]}",
                segments=_segments(h.points, start, end, span),
                last_x=_x(end, start, span),
                last_y=_y(last.ship_pct),
                last_pct=last.ship_pct,
            )
        )
        summary.append(f"{names[h.tool]}: {last.ship_pct}% ship")
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        top=TOP,
        bottom=HEIGHT - BOTTOM,
        grid=[(_y(pct), f"{pct}%") for pct in (0, 50, 100)],
        x_labels=[
            (LEFT, start.strftime("%d %b"), "start"),
            (WIDTH - RIGHT, "today", "end"),
        ],
        series=series,
        description=(
            f"Community ship % per day since {start:%d %b %Y}. Now: " + "; ".join(summary) + "."
        ),
    )
