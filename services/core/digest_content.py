"""What a weekly verdict digest says.

The comparisons published in the ISO week (not withdrawn), both tools with the panel
verdict and the community tally at issue time (the same read model the pages show),
and the biggest split: the tool(s), over every comparison published by the week's
end, where the panel's ship % and the community's lie furthest apart (only tools with
``SPLIT_MIN_VOTES`` community votes count).
"""

from __future__ import annotations

import msgspec

from .events import IssuedTally, Tool
from .read_models import Comparison, published_before
from .store import Connection
from .tallies import Tally
from .weeks import IsoWeek

SPLIT_MIN_VOTES = 10
"""Community votes a tool needs before its split from the panel is worth mailing."""

SPLITS_SHOWN = 3


class Split(msgspec.Struct, frozen=True, kw_only=True):
    """A tool on which readers and the panel disagree: ship % each, and the gap."""

    comparison: str
    comparison_title: str
    tool: Tool
    panel_pct: int
    community: Tally

    @property
    def gap(self) -> int:
        return abs(self.panel_pct - (self.community.ship_pct or 0))


class DigestContent(msgspec.Struct, frozen=True, kw_only=True):
    week: str
    label: str
    site_url: str
    comparisons: tuple[Comparison, ...]
    splits: tuple[Split, ...]

    def issued_tallies(self) -> tuple[IssuedTally, ...]:
        """The community tallies as this issue states them, for ``DigestIssued``."""
        seen: dict[tuple[str, str], Tally] = {}
        for c in self.comparisons:
            for side in c.sides:
                seen[(c.slug, side.tool.slug)] = side.community
        for s in self.splits:
            seen.setdefault((s.comparison, s.tool.slug), s.community)
        return tuple(
            IssuedTally(comparison=c, tool=t, ship=tally.ship, skip=tally.skip)
            for (c, t), tally in seen.items()
        )


async def assemble(conn: Connection, week: IsoWeek, public_url: str) -> DigestContent:
    """The digest of ``week`` as it would read now (tallies as they stand now)."""
    published = await published_before(conn, week.end)
    return DigestContent(
        week=str(week),
        label=week.label,
        site_url=public_url.rstrip("/"),
        comparisons=tuple(c for c in published if c.published_at >= week.start),
        splits=_biggest_splits(published),
    )


def _biggest_splits(comparisons: list[Comparison]) -> tuple[Split, ...]:
    candidates = [
        Split(
            comparison=c.slug,
            comparison_title=c.title,
            tool=s.tool,
            panel_pct=s.panel.ship_pct,
            community=s.community,
        )
        for c in comparisons
        for s in c.sides
        if s.panel.ship_pct is not None
        and s.community.ship_pct is not None
        and s.community.total >= SPLIT_MIN_VOTES
    ]
    widest = max((s.gap for s in candidates), default=0)
    if widest == 0:
        return ()
    top = [s for s in candidates if s.gap == widest]
    top.sort(key=lambda s: (-s.community.total, s.comparison, s.tool.slug))
    return tuple(top[:SPLITS_SHOWN])
