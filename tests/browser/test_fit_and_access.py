"""Every reader page at a phone's width (390 px) and a desktop's (1280 px): nothing wider
than the window, no text under 11 px as drawn (SVG text included), no content cut off in a
sideways scroller, a screenshot of each in artifacts/, and no WCAG 2.0/2.1 A or AA
violation that axe-core finds.

The layout checks run with JavaScript off, as the reader tests do: ``page.evaluate`` still
works there (it goes through the DevTools protocol, not the page's scripts), for code that
finishes without timers. axe-core does not: its ``run`` waits on ``setTimeout``, and with
JavaScript off no timer ever fires, so the axe checks load the page with JavaScript on.
The pages ship no script (each check asserts it), so both see the same page. axe is put
in with ``page.evaluate`` rather than ``add_script_tag``: with JavaScript off the tag is
added but never runs, and with it on the pages' CSP (``script-src 'self'``) refuses the
inline script that ``add_script_tag`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from services.core.tokens import Purpose, Tokens
from tests.api.live import LIVE_SECRET

from .conftest import ARTIFACTS, browser_page

pytestmark = pytest.mark.browser

FILES_VS_AZURE = "claude-files-api-vs-azure-ai-foundry-voice-router"
FILES, AZURE = "claude-files-api", "azure-ai-foundry-voice-router"
AZURE_VS_LITE = "azure-ai-foundry-voice-router-vs-gemini-2-5-flash-lite"
LITE = "gemini-2-5-flash-lite"

WIDTHS = {390: "phone", 1280: "desktop"}
MIN_TEXT_PX = 11
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@dataclass(frozen=True)
class Seeded:
    """What the module's database holds besides the demo catalog."""

    confirm_token: str
    unsubscribe_token: str


@pytest.fixture(scope="module")
async def seeded(live_url: str, live_dsn: str) -> Seeded:
    """Votes from three readers on one comparison (community column and chart), and a
    pending subscriber with confirm and unsubscribe links."""
    votes = [
        {FILES: "ship", AZURE: "skip"},
        {FILES: "ship", AZURE: "ship"},
        {FILES: "skip"},
    ]
    for ballot in votes:
        async with httpx.AsyncClient(base_url=live_url) as reader:
            (await reader.get("/")).raise_for_status()
            for tool, verdict in ballot.items():
                r = await reader.post(
                    f"/compare/{FILES_VS_AZURE}/votes/{tool}",
                    data={"_csrf_token": reader.cookies["csrftoken"], "verdict": verdict},
                )
                assert r.status_code == 303, r.text
    address = "fit.and.access@example.com"
    async with httpx.AsyncClient(base_url=live_url) as reader:
        (await reader.get("/subscribe")).raise_for_status()
        r = await reader.post(
            "/subscribe", data={"_csrf_token": reader.cookies["csrftoken"], "email": address}
        )
        assert r.status_code == 303, r.text
    conn = await asyncpg.connect(live_dsn)
    try:
        sid = str(
            await conn.fetchval(
                "select subscriber_id from subscriber_emails where email = $1", address
            )
        )
    finally:
        await conn.close()
    tokens = Tokens(LIVE_SECRET)
    return Seeded(
        confirm_token=tokens.issue(Purpose.CONFIRM, sid),
        unsubscribe_token=tokens.issue(Purpose.UNSUBSCRIBE, sid),
    )


async def _nothing(page: Page) -> None:
    pass


async def _bookmark_two(page: Page) -> None:
    await page.goto(f"/compare/{AZURE_VS_LITE}")
    for tool in (LITE, AZURE):
        await page.locator(f"#tool-{tool}").get_by_role("button", name="☆ Bookmark").click()
        await page.wait_for_load_state()


async def _vote_both(page: Page) -> None:
    """This reader has voted (pressed buttons, a withdraw button, the notice)."""
    await page.goto(f"/compare/{FILES_VS_AZURE}")
    for tool, verdict in ((AZURE, "Skip"), (FILES, "Ship")):
        await page.locator(f"#tool-{tool}").get_by_role("button", name=verdict).click()
        await page.wait_for_load_state()


async def _bad_address(page: Page) -> None:
    await page.get_by_label("Email address").fill("reader@example")
    await page.get_by_role("button", name="Subscribe").click()
    await page.wait_for_load_state()


@dataclass(frozen=True)
class Case:
    """A reader page: ``setup`` makes the reader's state, then the page is opened at
    ``path`` (which may name a token) and ``then`` acts on it, if the page is a form's
    answer."""

    name: str
    path: str
    heading: str
    setup: Callable[[Page], Awaitable[None]] = _nothing
    then: Callable[[Page], Awaitable[None]] = _nothing
    status: int = 200
    checks: list[str] = field(default_factory=list)  # selectors that must be visible

    def url(self, seeded: Seeded) -> str:
        return self.path.format(confirm=seeded.confirm_token, unsubscribe=seeded.unsubscribe_token)


CASES = [
    Case("home", "/", "AI tool comparisons", checks=[".comparison-list"]),
    Case(
        "compare",
        f"/compare/{FILES_VS_AZURE}?done=vote&tool={FILES}",
        "Claude Files API vs Azure AI Foundry Real-Time Voice API & Model Router",
        setup=_vote_both,
        checks=[".notice", "#decision-title", "svg.chart", ".legend"],
    ),
    Case(
        "compare-no-votes",
        f"/compare/{AZURE_VS_LITE}",
        "Azure AI Foundry Real-Time Voice API & Model Router vs Gemini 2.5 Flash Lite",
        checks=["#decision-title"],
    ),
    Case("bookmarks-empty", "/bookmarks", "Bookmarks", checks=[".empty"]),
    Case("bookmarks", "/bookmarks", "Bookmarks", setup=_bookmark_two, checks=[".bookmark"]),
    Case("subscribe", "/subscribe", "Get the next comparison in your inbox"),
    Case(
        "subscribe-invalid",
        "/subscribe",
        "Get the next comparison in your inbox",
        then=_bad_address,
        checks=[".field-error"],
    ),
    Case("check-inbox", "/subscribe/check-inbox", "Check your inbox"),
    Case("confirm", "/subscribe/confirm?token={confirm}", "Confirm your subscription"),
    Case("confirmed", "/subscribe/confirmed", "You're subscribed"),
    Case(
        "unsubscribe", "/unsubscribe?token={unsubscribe}", "Unsubscribe from the weekly verdicts?"
    ),
    Case("unsubscribed", "/unsubscribe/done", "You're unsubscribed"),
    Case("problem", "/problems/invalid-email", "/problems/invalid-email"),
    Case("not-found", "/compare/does-not-exist", "No such comparison", status=404),
]

# Runs in the page (synchronously: no timers with JavaScript off). For each text node
# drawn on screen, the font size as drawn: the computed size, times the SVG's scale for
# text inside an SVG (its font-size is in the viewBox's units, and the viewBox is scaled
# to the box the SVG gets). Also every element whose content is cut off sideways.
MEASURE = """minPx => {
  const small = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.trim()) continue;
    const el = node.parentElement;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = [...range.getClientRects()].filter(r => r.width > 1 && r.height > 1);
    if (!rects.length) continue;  // not drawn (display: none, SVG <title>, visually-hidden)
    const style = getComputedStyle(el);
    if (style.visibility !== "visible" || Number(style.opacity) === 0) continue;
    let size = parseFloat(style.fontSize);
    if (el instanceof SVGElement) {
      const m = el.getScreenCTM();
      size *= Math.hypot(m.a, m.b);
    }
    if (size < minPx) {
      small.push({text: node.data.trim().slice(0, 60), tag: el.tagName.toLowerCase(),
                  cls: el.getAttribute("class") || "", px: Math.round(size * 10) / 10,
                  box_height: Math.round(rects[0].height * 10) / 10});
    }
  }
  const clipped = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (!(el instanceof HTMLElement) || el.clientWidth <= 1) continue;
    const overflowX = getComputedStyle(el).overflowX;
    if (overflowX === "visible" || overflowX === "clip") continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      clipped.push({tag: el.tagName.toLowerCase(), cls: el.getAttribute("class") || "",
                    overflowX, scrollWidth: el.scrollWidth, clientWidth: el.clientWidth});
    }
  }
  return {
    innerWidth: window.innerWidth,
    scrollWidth: document.documentElement.scrollWidth,
    small, clipped,
    scripts: document.scripts.length,
  };
}"""


async def open_case(page: Page, case: Case, seeded: Seeded) -> None:
    await case.setup(page)
    response = await page.goto(case.url(seeded))
    assert response is not None and response.status == case.status, case.name
    await case.then(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text(case.heading)
    for selector in case.checks:
        await expect(page.locator(selector).first).to_be_visible()


def _show(items: list[dict[str, Any]]) -> str:
    return "\n".join("  " + json.dumps(item, ensure_ascii=False) for item in items)


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_page_fits_the_window(
    live_url: str, seeded: Seeded, case: Case, width: int, chromium: Browser
) -> None:
    async with browser_page(chromium, live_url, width=width) as page:
        await open_case(page, case, seeded)
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(
            path=ARTIFACTS / f"{WIDTHS[width]}-{width}-{case.name}.png", full_page=True
        )
        found: dict[str, Any] = await page.evaluate(MEASURE, MIN_TEXT_PX)
    assert found["innerWidth"] == width
    assert found["scripts"] == 0, "the reader pages ship no script"
    problems = []
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"the page is {found['scrollWidth']} px wide: it scrolls sideways")
    if found["clipped"]:
        problems.append("content cut off in a sideways scroller:\n" + _show(found["clipped"]))
    if found["small"]:
        problems.append(f"text drawn under {MIN_TEXT_PX} px:\n" + _show(found["small"]))
    assert not problems, f"{case.name} at {width} px:\n" + "\n".join(problems)


def _violations(result: dict[str, Any]) -> str:
    lines = []
    for v in result["violations"]:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}  {v['helpUrl']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}".rstrip())
            lines.append(f"      {node['html'][:160]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    … and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_page_passes_axe(
    live_url: str, seeded: Seeded, axe_source: str, case: Case, width: int, chromium: Browser
) -> None:
    # JavaScript on for axe's own timers (see the module's docstring); the page has none.
    async with browser_page(chromium, live_url, width=width, java_script_enabled=True) as page:
        await open_case(page, case, seeded)
        assert await page.evaluate("document.scripts.length") == 0
        await page.evaluate(axe_source)
        result: dict[str, Any] = await page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
        )
    assert not result["violations"], f"axe-core on {case.name} at {width} px:\n" + _violations(
        result
    )


# What was found at 390 px, each checked where it was seen.


async def test_decision_is_a_table_on_a_desktop_and_a_list_per_tool_on_a_phone(
    live_url: str, seeded: Seeded, chromium: Browser
) -> None:
    for width, table, lists in ((1280, True, False), (390, False, True)):
        async with browser_page(chromium, live_url, width=width) as page:
            await page.goto(f"/compare/{FILES_VS_AZURE}")
            await expect(page.locator("table.decision")).to_be_visible(visible=table)
            stack = page.locator(".decision-stack")
            await expect(stack).to_be_visible(visible=lists)
            if lists:
                tools = stack.get_by_role("region")
                await expect(tools).to_have_count(2)
                await expect(tools.first.get_by_role("heading")).to_have_text("Claude Files API")
                await expect(tools.first).to_contain_text("Panel verdict")
                await expect(tools.nth(1).get_by_role("heading")).to_have_text(
                    "Azure AI Foundry Real-Time Voice API & Model Router"
                )


async def test_a_single_day_of_votes_is_a_short_mark_not_a_line_across(
    live_url: str, seeded: Seeded, chromium: Browser
) -> None:
    # The module's votes were all cast today (the live server's clock).
    for width in WIDTHS:
        async with browser_page(chromium, live_url, width=width) as page:
            await page.goto(f"/compare/{FILES_VS_AZURE}")
            chart = await page.locator("svg.chart").bounding_box()
            assert chart is not None
            lines = page.locator("svg.chart polyline")
            await expect(lines).to_have_count(2)
            for box in [await line.bounding_box() for line in await lines.all()]:
                assert box is not None
                assert box["width"] < chart["width"] / 10, (width, box, chart)
                assert box["x"] + box["width"] > chart["x"] + chart["width"] * 0.9


async def test_stat_tiles_keep_label_badge_and_number_on_one_line(
    live_url: str, seeded: Seeded, chromium: Browser
) -> None:
    for width in WIDTHS:
        async with browser_page(chromium, live_url, width=width) as page:
            await page.goto(f"/compare/{FILES_VS_AZURE}")
            tile = page.locator(f"#tool-{FILES} .stats > div").first
            label, badge, number = [
                await tile.locator(s).bounding_box() for s in ("dt", ".badge", ".big")
            ]
            assert label and badge and number
            line = await tile.locator("dt").evaluate(
                "dt => parseFloat(getComputedStyle(dt).lineHeight) || 20"
            )
            assert label["height"] < 1.5 * line, f"'Panel ship' wraps at {width} px"
            assert (
                abs((badge["y"] + badge["height"] / 2) - (number["y"] + number["height"] / 2)) < 8
            ), f"the badge and the number are not on one line at {width} px"


async def test_the_tools_start_on_a_phones_first_screen(
    live_url: str, seeded: Seeded, chromium: Browser
) -> None:
    async with browser_page(chromium, live_url, width=390, height=844) as page:
        await page.goto(f"/compare/{FILES_VS_AZURE}")
        card = await page.locator(f"#tool-{FILES} .stats").bounding_box()
        assert card is not None and card["y"] + card["height"] <= 844, card


async def test_a_missing_page_explains_itself_before_the_detail(
    live_url: str, chromium: Browser
) -> None:
    async with browser_page(chromium, live_url, width=390) as page:
        response = await page.goto("/compare/does-not-exist")
        assert response is not None and response.status == 404
        texts = await page.locator(".error-page > *").all_inner_texts()
        assert texts[:3] == [
            "ERROR 404",  # the eyebrow is set in capitals
            "No such comparison",
            "No comparison has this slug. The comparison list has every live one.",
        ]
        assert texts[-1] == "Details: no comparison 'does-not-exist'"
