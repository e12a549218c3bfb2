"""A fuzzer over every HTML form: vote, withdraw, bookmark, subscribe, confirm,
unsubscribe and one-click. Real values, hostile ones (NUL bytes, other scripts,
slashes, megabytes of nothing), missing and extra fields, a good, missing or forged
CSRF token, and bodies that are not a form at all. No answer is a 5xx; an error is a
page; and a refused request (4xx) appends nothing to the event log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from litestar import Litestar

from services.api.security import Limits
from services.core.subscriptions import request_subscription
from services.core.tokens import Purpose, Tokens

from .conftest import AZURE, FILES, FILES_VS_AZURE, event_count, limits_for_test

SUBSCRIBER = "fuzz@example.com"


@pytest.fixture
def limits() -> Limits:
    """Limits no fuzzing run reaches: a 429 would hide what the form does."""
    unlimited = ("minute", 100_000)
    return limits_for_test(
        votes=unlimited,
        bookmarks=unlimited,
        subscriptions=unlimited,
        one_click=unlimited,
        new_readers=unlimited,
    )


@dataclass(frozen=True)
class Form:
    """A form as a page renders it: where it posts, and the values its fields take."""

    action: str  # with {placeholders} for path and query values
    fields: dict[str, tuple[str, ...]]
    csrf: bool = True


def forms(tokens: Tokens, subscriber: str) -> dict[str, Form]:
    confirm = tokens.issue(Purpose.CONFIRM, subscriber)
    leave = tokens.issue(Purpose.UNSUBSCRIBE, subscriber)
    return {
        "vote": Form("/compare/{slug}/votes/{tool}", {"verdict": ("ship", "skip")}),
        "withdraw": Form("/compare/{slug}/votes/{tool}", {"verdict": ("withdraw",)}),
        "bookmark": Form(
            "/bookmarks/{tool}",
            {"action": ("add", "remove"), "back": (FILES_VS_AZURE, "bookmarks")},
        ),
        "subscribe": Form("/subscribe", {"email": ("reader@example.com", SUBSCRIBER)}),
        "confirm": Form("/subscribe/confirm", {"token": (confirm,)}),
        "unsubscribe": Form("/unsubscribe", {"token": (leave,)}),
        "one-click": Form(
            "/unsubscribe/one-click?token={token}",
            {"List-Unsubscribe": ("One-Click",)},
            csrf=False,
        ),
    }


PLACES = {"slug": (FILES_VS_AZURE,), "tool": (FILES, AZURE, "mistral-4b-edge")}

NASTY = ("\x00", "a\x00b", "..", "../..", "%", "%zz", "x" * 5000, " ", "\u202e", "\ufeff", "\r\n")

hostile = st.one_of(
    st.sampled_from(NASTY),
    st.tuples(st.text(max_size=20), st.text(max_size=20)).map(lambda t: f"{t[0]}\x00{t[1]}"),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
)
"""Values no form would send: a NUL byte in a good share of them (PostgreSQL refuses it)."""

MUTATIONS = ("path", "field", "drop", "extra", "csrf", "encoding")
"""What can be wrong with a submission; each example has none, one or two of them."""


@dataclass(frozen=True)
class Submission:
    url: str
    body: bytes
    content_type: str | None
    csrf: str  # "good", "missing" or "forged"


def fill(action: str, values: dict[str, str]) -> str:
    for name, text in values.items():
        action = action.replace("{" + name + "}", quote(text, safe=""))
    return action


@st.composite
def form_fields(draw: st.DrawFn, form: Form, mutations: list[str]) -> dict[str, str]:
    chosen = {name: draw(st.sampled_from(real)) for name, real in form.fields.items()}
    if "field" in mutations:
        chosen[draw(st.sampled_from(sorted(chosen)))] = draw(hostile)
    if "drop" in mutations:
        del chosen[draw(st.sampled_from(sorted(chosen)))]
    if "extra" in mutations:
        chosen.update(draw(st.dictionaries(st.text(max_size=10), hostile, min_size=1, max_size=3)))
    return chosen


def encoded(
    draw: st.DrawFn, data: dict[str, str], mutations: list[str]
) -> tuple[bytes, str | None]:
    kind = draw(st.sampled_from(["json", "bytes", "none"])) if "encoding" in mutations else "form"
    if kind == "form":
        return urlencode(data).encode(), "application/x-www-form-urlencoded"
    if kind == "json":
        return json.dumps(data).encode(), "application/json"
    if kind == "bytes":
        kinds = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"]
        return draw(st.binary(max_size=200)), draw(st.sampled_from(kinds))
    return b"", None


@st.composite
def submissions(draw: st.DrawFn, form: Form, token: str) -> Submission:
    mutations = draw(
        st.one_of(
            st.just([]),
            st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=1),
            st.lists(st.sampled_from(MUTATIONS), min_size=2, max_size=2, unique=True),
        )
    )
    places = {n: draw(st.sampled_from(real)) for n, real in PLACES.items()} | {"token": token}
    used = [n for n in places if "{" + n + "}" in form.action]
    if "path" in mutations and used:
        places[draw(st.sampled_from(used))] = draw(hostile)
    body, content_type = encoded(draw, draw(form_fields(form, mutations)), mutations)
    csrf = "good" if form.csrf else "missing"
    if "csrf" in mutations and form.csrf:
        csrf = draw(st.sampled_from(["missing", "forged"]))
    return Submission(fill(form.action, places), body, content_type, csrf)


async def submit(browser: httpx.AsyncClient, s: Submission) -> httpx.Response:
    body = s.body
    if s.csrf != "missing":
        token = browser.cookies["csrftoken"] if s.csrf == "good" else "forged" * 8
        field = urlencode({"_csrf_token": token}).encode()
        body = field + (b"&" + body if body else b"")
    headers = {"content-type": s.content_type} if s.content_type else {}
    return await browser.post(s.url, content=body, headers=headers)


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_no_form_answers_5xx_and_refusals_append_nothing(
    app: Litestar, browser: httpx.AsyncClient, data: st.DataObject
) -> None:
    pool = app.state.pool
    subscriber = await pool.fetchval(
        "select subscriber_id::text from subscriber_emails where email = $1", SUBSCRIBER
    ) or await request_subscription(pool, SUBSCRIBER)
    tokens: Tokens = app.state.tokens
    every = forms(tokens, subscriber)
    name = data.draw(st.sampled_from(sorted(every)), label="form")
    leave = tokens.issue(Purpose.UNSUBSCRIBE, subscriber)
    submission = data.draw(submissions(every[name], leave), label="submission")
    before = await event_count(pool)
    r = await submit(browser, submission)
    event(f"{name}: {r.status_code}")
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert await event_count(pool) == before, f"{name} answered {r.status_code} and appended"
        assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
        assert "Traceback" not in r.text
