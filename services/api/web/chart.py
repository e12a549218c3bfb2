"""Geometry for the community ship % chart, drawn as inline SVG by the template (no JS).

The chart keeps its text at the page's size at any width: the outer SVG has no viewBox,
so its units are CSS pixels (the labels, the end dots, the height), and only the plot, a
nested SVG, stretches sideways (``preserveAspectRatio="none"``, strokes that do not
scale). Across, the plot always spans the last ``HISTORY_DAYS`` days up to the end of
today, so a tool voted on for one day is a short mark at the right, not a line across
the chart: it shows the days that were measured and nothing before them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.core.read_models import HISTORY_DAYS, HistoryPoint, ToolHistory

WIDTH = 1000
"""Plot units across (the plot stretches to the chart's width)."""
HEIGHT = 140
"""The plot's height in CSS pixels, and in plot units."""
PLOT_TOP = 22  # room above the plot for the "100%" label, which sits on its grid line
PLOT_BOTTOM = 26  # room below for the dates


@dataclass(frozen=True, slots=True)
class Series:
    tool: str
    name: str
    css_class: str
    segments: list[str]  # SVG polyline ``points`` in plot units; a gap where no vote stood
    last_x: float  # plot units
    last_y: float  # plot units (= px below the plot's top)
    last_pct: int

    @property
    def last_x_pct(self) -> float:
        """Where the current ship % is, in % of the chart's width."""
        return round(100 * self.last_x / WIDTH, 2)


@dataclass(frozen=True, slots=True)
class Chart:
    width: int  # plot units across
    height: int  # the whole chart's height in CSS pixels
    plot_top: int  # the plot's top in CSS pixels
    plot_height: int  # CSS pixels, and plot units
    left: int  # the plot's extent in plot units
    right: float
    top: int
    bottom: float
    grid: list[tuple[float, str]]  # y in plot units, label
    x_labels: list[tuple[float, str, str]]  # x in % of the width, label, text-anchor
    series: list[Series]
    description: str


def _x(day: date, start: date, span: int) -> float:
    return WIDTH * (day - start).days / span


def _y(pct: int) -> float:
    return HEIGHT * (100 - pct) / 100


def _segments(points: list[HistoryPoint], start: date, end: date, span: int) -> list[str]:
    """Step lines: a day's ship % holds until the next day that changed it, the last
    one until the end of today; nothing before the first measured day."""
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
    start = min(min(days), today - timedelta(days=HISTORY_DAYS - 1))
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
        height=PLOT_TOP + HEIGHT + PLOT_BOTTOM,
        plot_top=PLOT_TOP,
        plot_height=HEIGHT,
        left=0,
        right=WIDTH,
        top=0,
        bottom=HEIGHT,
        grid=[(_y(pct), f"{pct}%") for pct in (100, 50, 0)],
        x_labels=[(0, start.strftime("%d %b"), "start"), (100, "today", "end")],
        series=series,
        description=(
            f"Community ship % per day since {min(days):%d %b %Y}. Now: " + "; ".join(summary) + "."
        ),
    )
