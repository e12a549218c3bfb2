"""What a digest says: the week's comparisons with panel and community, and the
biggest split between readers and the panel, as the issued mail and event state it."""

from __future__ import annotations

import json
import uuid
from typing import Literal

import pytest

from services.core import digest_content, digest_issues, reader_actions
from services.core.config import Settings
from services.core.store import Pool
from services.core.weeks import IsoWeek
from tests.fixtures import WEEK

pytestmark = pytest.mark.calendar

FILES_VS_AZURE = "claude-files-api-vs-azure-ai-foundry-voice-router"


async def test_content_panel_community_and_the_biggest_split(
    pool: Pool, settings: Settings, catalog: None
) -> None:
    # The panel ships Claude Files API 4 of 4; readers mostly skip it.
    for i in range(12):
        verdict: Literal["ship", "skip"] = "ship" if i < 2 else "skip"
        await reader_actions.cast_vote(
            pool, str(uuid.uuid4()), FILES_VS_AZURE, "claude-files-api", verdict
        )
    async with pool.acquire() as conn:
        content = await digest_content.assemble(conn, IsoWeek.parse(WEEK), settings.public_url)
    assert [c.published_at.isoformat()[:10] for c in content.comparisons] == [
        "2026-11-17",
        "2026-11-19",
    ]
    first = content.comparisons[0].sides[0]
    assert (first.panel.ship_pct, first.panel.ship, len(first.panel.reviews)) == (100, 4, 4)
    assert (first.community.ship, first.community.skip, first.community.ship_pct) == (2, 10, 17)
    (split,) = content.splits
    assert (split.tool.slug, split.panel_pct, split.community.ship_pct, split.gap) == (
        "claude-files-api",
        100,
        17,
        83,
    )

    await digest_issues.issue(pool, settings, IsoWeek.parse(WEEK))
    async with pool.acquire() as conn:
        mail = await digest_issues.issued_mail(conn, IsoWeek.parse(WEEK))
    assert mail is not None
    assert "WHERE READERS AND THE PANEL DISAGREE MOST" in mail.text
    assert "the panel says 100% ship, readers 17% (12 votes), 83 points apart" in mail.text
    assert "17% ship · 2 ship / 10 skip" in mail.html
    tallies = await pool.fetchval(
        "select data -> 'tallies' from events where type = 'DigestIssued'"
    )
    assert {"comparison": FILES_VS_AZURE, "tool": "claude-files-api", "ship": 2, "skip": 10} in (
        json.loads(tallies)
    )
