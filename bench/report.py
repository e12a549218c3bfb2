"""One table for every scenario: our figure, the baseline's, the ratio, the target."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


@dataclass(frozen=True)
class Row:
    """One line of the table. ``met`` is None where no target applies."""

    scenario: str
    ours: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: ""}[self.met]


def rate(x: float) -> str:
    return f"{x:,.0f}/s"


def ms(x: float) -> str:
    return f"{x:,.1f} ms" if x < 100 else f"{x:,.0f} ms"


def seconds(x: float) -> str:
    return f"{x:,.2f} s"


def ratio(x: float) -> str:
    return f"{x:.2f}x"


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def print_table(title: str, rows: Sequence[Row], console: Console | None = None) -> None:
    table = Table("scenario", "ours", "baseline", "ratio", "target", "", title=title)
    for r in rows:
        style = {True: "green", False: "red", None: ""}[r.met]
        table.add_row(r.scenario, r.ours, r.baseline, r.ratio, r.target, r.verdict, style=style)
    (console or Console()).print(table)


def markdown(rows: Sequence[Row]) -> str:
    """The rows as a GitHub-flavoured Markdown table."""
    lines = [
        "| scenario | ours | baseline | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.scenario} | {r.ours} | {r.baseline} | {r.ratio} | {r.target} | {r.verdict} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"
