"""The weekly verdict digest: what goes in it, and issuing it exactly once per week.

Content: the comparisons published in the ISO week (not withdrawn), both tools with
the panel verdict and the community tally at issue time, and the biggest split: the
tool(s), over every comparison published by the week's end, where the panel's ship %
and the community's ship % lie furthest apart (only tools with ``SPLIT_MIN_VOTES``
community votes count).

Issuing appends ``DigestIssued`` to ``digest-<week>`` at expected version 0 and, in the
same transaction, renders the issue once (``digest_issues``) and freezes the recipient
set: every subscriber confirmed in that transaction's snapshot (``digest_recipients``).
A second issuer, or a second cron fire, conflicts on the stream and finds it issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import msgspec

from .config import Settings
from .errors import StreamVersionConflictError
from .events import DigestCompleted, DigestIssued, IssuedTally
from .mail_render import RenderedMail, render_digest
from .projections.catalog import ComparisonDoc
from .store import Connection, Pool
from .tallies import Tally, current
from .weeks import IsoWeek
from .writes import STORE, append, with_retries

SPLIT_MIN_VOTES = 10
"""Community votes a tool needs before its split from the panel is worth mailing."""

SPLITS_SHOWN = 3

_doc_decoder = msgspec.json.Decoder(ComparisonDoc)


class ToolView(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    name: str
    vendor: str
    tagline: str
    pricing_read: str
    best_for: str
    panel_ship: int
    panel_reviews: int
    panel_pct: int | None
    panel_score: int | None
    community: Tally

    @property
    def panel_verdict(self) -> str:
        if not self.panel_reviews:
            return "no panel yet"
        skip = self.panel_reviews - self.panel_ship
        return "ship" if self.panel_ship > skip else "skip" if skip > self.panel_ship else "split"


class ComparisonView(msgspec.Struct, frozen=True, kw_only=True):
    slug: str
    title: str
    url: str
    published_at: datetime
    tools: tuple[ToolView, ToolView]


class Split(msgspec.Struct, frozen=True, kw_only=True):
    """A tool on which readers and the panel disagree: ship % each, and the gap."""

    comparison: str
    comparison_title: str
    url: str
    tool: str
    tool_name: str
    panel_pct: int
    community_pct: int
    ship: int
    skip: int

    @property
    def votes(self) -> int:
        return self.ship + self.skip

    @property
    def gap(self) -> int:
        return abs(self.panel_pct - self.community_pct)


class DigestContent(msgspec.Struct, frozen=True, kw_only=True):
    week: str
    label: str
    site_url: str
    comparisons: tuple[ComparisonView, ...]
    splits: tuple[Split, ...]

    def issued_tallies(self) -> tuple[IssuedTally, ...]:
        """The community tallies as this issue states them, for ``DigestIssued``."""
        seen: dict[tuple[str, str], IssuedTally] = {}
        for c in self.comparisons:
            for t in c.tools:
                seen[(c.slug, t.slug)] = IssuedTally(
                    comparison=c.slug, tool=t.slug, ship=t.community.ship, skip=t.community.skip
                )
        for s in self.splits:
            seen.setdefault(
                (s.comparison, s.tool),
                IssuedTally(comparison=s.comparison, tool=s.tool, ship=s.ship, skip=s.skip),
            )
        return tuple(seen.values())


def digest_stream(week: IsoWeek) -> str:
    return f"digest-{week}"


def _tool_view(
    slug: str, tools: dict[str, tuple[str, str, str]], doc: ComparisonDoc, tally: Tally
) -> ToolView:
    name, vendor, tagline = tools.get(slug, (slug, "", ""))
    side = next((s for s in doc.sides if s.tool == slug), None)
    reviews = [r for r in doc.reviews if r.tool == slug]
    ship = sum(r.verdict == "ship" for r in reviews)
    return ToolView(
        slug=slug,
        name=name,
        vendor=vendor,
        tagline=tagline,
        pricing_read=side.pricing_read if side else "",
        best_for=side.best_for if side else "",
        panel_ship=ship,
        panel_reviews=len(reviews),
        panel_pct=round(100 * ship / len(reviews)) if reviews else None,
        panel_score=round(sum(r.score for r in reviews) / len(reviews)) if reviews else None,
        community=tally,
    )


async def assemble(conn: Connection, week: IsoWeek, public_url: str) -> DigestContent:
    """The digest of ``week`` as it would read now (tallies as they stand now)."""
    site = public_url.rstrip("/")
    rows = await conn.fetch(
        "select slug, title, published_at, tool_a, tool_b, doc::text from comparisons"
        " where withdrawn_at is null and published_at < $1 order by published_at, slug",
        week.end,
    )
    slugs = sorted({r[3] for r in rows} | {r[4] for r in rows})
    tools = {
        r[0]: (r[1], r[2], r[3])
        for r in await conn.fetch(
            "select slug, name, vendor, tagline from tools where slug = any($1)", slugs
        )
    }
    tallies = await current(conn, [(r[0], t) for r in rows for t in (r[3], r[4])])
    views = []
    for slug, title, published_at, a, b, doc_text in rows:
        doc = _doc_decoder.decode(doc_text)
        views.append(
            ComparisonView(
                slug=slug,
                title=title,
                url=f"{site}/compare/{slug}",
                published_at=published_at,
                tools=(
                    _tool_view(a, tools, doc, tallies[(slug, a)]),
                    _tool_view(b, tools, doc, tallies[(slug, b)]),
                ),
            )
        )
    return DigestContent(
        week=str(week),
        label=week.label,
        site_url=site,
        comparisons=tuple(v for v in views if v.published_at >= week.start),
        splits=_biggest_splits(views),
    )


def _biggest_splits(views: list[ComparisonView]) -> tuple[Split, ...]:
    candidates = [
        Split(
            comparison=c.slug,
            comparison_title=c.title,
            url=c.url,
            tool=t.slug,
            tool_name=t.name,
            panel_pct=t.panel_pct,
            community_pct=t.community.ship_pct,
            ship=t.community.ship,
            skip=t.community.skip,
        )
        for c in views
        for t in c.tools
        if t.panel_pct is not None
        and t.community.ship_pct is not None
        and t.community.total >= SPLIT_MIN_VOTES
    ]
    widest = max((s.gap for s in candidates), default=0)
    if widest == 0:
        return ()
    top = [s for s in candidates if s.gap == widest]
    top.sort(key=lambda s: (-s.votes, s.comparison, s.tool))
    return tuple(top[:SPLITS_SHOWN])


class IssueOutcome(StrEnum):
    ISSUED = "issued"
    ALREADY_ISSUED = "already_issued"
    NOTHING_NEW = "nothing_new"


@dataclass(frozen=True, slots=True)
class IssueResult:
    week: IsoWeek
    outcome: IssueOutcome
    recipients: int = 0
    comparisons: int = 0


async def issue(pool: Pool, settings: Settings, week: IsoWeek) -> IssueResult:
    """Issue the digest of ``week`` once; a week with nothing new issues nothing."""
    stream = digest_stream(week)

    async def work(conn: Connection) -> IssueResult:
        if await STORE.stream_version(conn, stream) > 0:
            return await _already(conn, week)
        if not await conn.fetchval(
            "select exists(select 1 from comparisons where withdrawn_at is null"
            " and published_at >= $1 and published_at < $2)",
            week.start,
            week.end,
        ):
            return IssueResult(week, IssueOutcome.NOTHING_NEW)
        content = await assemble(conn, week, settings.public_url)
        rendered = render_digest(content)
        result = await append(
            conn,
            stream,
            [
                DigestIssued(
                    week=str(week),
                    comparisons=tuple(c.slug for c in content.comparisons),
                    tallies=content.issued_tallies(),
                )
            ],
            expected_version=0,
        )
        await conn.execute(
            "insert into digest_issues (week, position, subject, html, text)"
            " values ($1, $2, $3, $4, $5)",
            str(week),
            result.recorded[0].position,
            rendered.subject,
            rendered.html,
            rendered.text,
        )
        # The recipient set is frozen here, in the issuing transaction's snapshot.
        frozen = await conn.execute(
            "insert into digest_recipients (week, subscriber_id)"
            " select $1, subscriber_id from subscribers where status = 'confirmed'"
            " order by subscriber_id",
            str(week),
        )
        recipients = int(frozen.rsplit(" ", 1)[1])
        await conn.execute(
            "update digest_issues set recipients = $2 where week = $1", str(week), recipients
        )
        return IssueResult(week, IssueOutcome.ISSUED, recipients, len(content.comparisons))

    return await with_retries(pool, work)


async def _already(conn: Connection, week: IsoWeek) -> IssueResult:
    row = await conn.fetchrow(
        "select i.recipients, e.data -> 'comparisons' from digest_issues i"
        " join events e on e.position = i.position where i.week = $1",
        str(week),
    )
    recipients, comparisons = (row[0], len(msgspec.json.decode(row[1]))) if row else (0, 0)
    return IssueResult(week, IssueOutcome.ALREADY_ISSUED, recipients, comparisons)


async def issued_mail(conn: Connection, week: IsoWeek) -> RenderedMail | None:
    """The issue of ``week`` as rendered when it was issued, if it was."""
    row = await conn.fetchrow(
        "select subject, text, html from digest_issues where week = $1", str(week)
    )
    return RenderedMail(subject=row[0], text=row[1], html=row[2]) if row else None


async def preview(conn: Connection, settings: Settings, week: IsoWeek) -> RenderedMail | None:
    """The digest of ``week``: as issued if it was, else as it would be issued now;
    ``None`` when nothing was published that week."""
    if (issued := await issued_mail(conn, week)) is not None:
        return issued
    content = await assemble(conn, week, settings.public_url)
    return render_digest(content) if content.comparisons else None


async def next_week(conn: Connection, now: datetime) -> IsoWeek:
    """The week the next digest covers: the last complete week until it is issued,
    then the current one."""
    last = IsoWeek.last_complete(now)
    if await conn.fetchval("select 1 from digest_issues where week = $1", str(last)):
        return IsoWeek.of(now)
    return last


async def latest_issued(conn: Connection) -> IsoWeek | None:
    week: str | None = await conn.fetchval(
        "select week from digest_issues order by issued_at desc limit 1"
    )
    return IsoWeek.parse(week) if week else None


class DigestStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where a week's send stands: the queue by state, and what the ledger records."""

    week: str
    issued_at: datetime | None
    completed_at: datetime | None
    recipients: int
    states: dict[str, int]
    delivered: int
    duplicates: int
    bounced: int

    @property
    def sent(self) -> int:
        return self.states.get("sent", 0)

    @property
    def pending(self) -> int:
        return sum(self.states.get(s, 0) for s in ("pending", "claimed", "sending"))


async def status(conn: Connection, week: IsoWeek) -> DigestStatus:
    """How many are sent, pending, bounced, unknown ... for ``week``."""
    issue_row = await conn.fetchrow(
        "select issued_at, completed_at, recipients from digest_issues where week = $1",
        str(week),
    )
    states = {
        r[0]: r[1]
        for r in await conn.fetch(
            "select state, count(*)::int from digest_recipients where week = $1 group by state",
            str(week),
        )
    }
    ledger = await conn.fetchrow(
        "select count(*) filter (where status = 'delivered')::int,"
        " count(*) filter (where deliveries > 1)::int,"
        " count(*) filter (where status = 'bounced')::int"
        " from digest_deliveries where week = $1",
        str(week),
    )
    assert ledger is not None  # an aggregate always returns its row
    return DigestStatus(
        week=str(week),
        issued_at=issue_row[0] if issue_row else None,
        completed_at=issue_row[1] if issue_row else None,
        recipients=issue_row[2] if issue_row else 0,
        states=states,
        delivered=ledger[0],
        duplicates=ledger[1],
        bounced=ledger[2],
    )


async def complete_if_done(pool: Pool, week: IsoWeek) -> bool:
    """Append ``DigestCompleted`` once nothing of ``week`` is left to send; True if done."""

    async def work(conn: Connection) -> bool:
        completed: bool | None = await conn.fetchval(
            "select completed_at is not null from digest_issues where week = $1", str(week)
        )
        if completed is None:
            return False  # never issued: there is nothing to complete
        if completed:
            return True
        counts = await conn.fetchrow(
            "select count(*) filter (where state in ('pending', 'claimed', 'sending'))::int,"
            " count(*) filter (where state = 'sent')::int,"
            " count(*) filter (where state = 'bounced')::int"
            " from digest_recipients where week = $1",
            str(week),
        )
        assert counts is not None  # an aggregate always returns its row
        if counts[0]:
            return False
        try:
            await append(
                conn,
                digest_stream(week),
                [DigestCompleted(week=str(week), sent=counts[1], bounced=counts[2])],
                expected_version=1,
            )
        except StreamVersionConflictError:
            return True  # another sender completed it first; with_retries must not re-run
        await conn.execute(
            "update digest_issues set completed_at = now() where week = $1", str(week)
        )
        return True

    return await with_retries(pool, work)


async def open_weeks(conn: Connection) -> list[IsoWeek]:
    """Issued weeks not yet completed, oldest first."""
    rows = await conn.fetch(
        "select week from digest_issues where completed_at is null order by issued_at"
    )
    return [IsoWeek.parse(r[0]) for r in rows]
