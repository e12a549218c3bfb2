"""Schemathesis, stateful, over the JSON API under a real uvicorn: sequences of calls
(list the comparisons, then vote on, withdraw, bookmark, read back, subscribe), valid
and invalid input alike (NUL bytes included), from a fixed seed. No answer is a 5xx,
every answer matches the OpenAPI document, and an answer that refuses (4xx) leaves the
event log as it was."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import asyncpg
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode, checks
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.generation.stateful import APIStateMachine
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput
from schemathesis.specs.openapi.formats import unregister_string_format

from .live import live_dsn, live_url

__all__ = ["live_dsn", "live_url"]

SEED = 20261124
SCENARIOS = 60
STEPS = 10
MIN_CALLS = 500

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

LIST = "ApiV1ComparisonsListComparisons"
SLUG = "$response.body#/comparisons/0/slug"
TOOL_A, TOOL_B = (f"$response.body#/comparisons/0/sides/{i}/tool" for i in (0, 1))
# Litestar's OpenAPI document has no links; these say which answer feeds which call.
LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    ("/api/v1/comparisons", "get", "200"): {
        "Vote": {
            "operationId": "ApiV1ComparisonsSlugVotesToolCastVote",
            "parameters": {"slug": SLUG, "tool": TOOL_A},
        },
        "Withdraw": {
            "operationId": "ApiV1ComparisonsSlugVotesToolWithdrawVote",
            "parameters": {"slug": SLUG, "tool": TOOL_B},
        },
        "Bookmark": {
            "operationId": "ApiV1BookmarksToolAddBookmark",
            "parameters": {"tool": TOOL_B},
        },
        "Unbookmark": {
            "operationId": "ApiV1BookmarksToolRemoveBookmark",
            "parameters": {"tool": TOOL_A},
        },
        "Bookmarks": {"operationId": "ApiV1BookmarksListBookmarks"},
        "Subscribe": {"operationId": "ApiV1SubscriptionsSubscribe"},
    },
    ("/api/v1/comparisons/{slug}/votes/{tool}", "put", "200"): {
        "Comparison": {
            "operationId": "ApiV1ComparisonsSlugGetComparison",
            "parameters": {"slug": "$request.path.slug"},
        },
        "Tally": {
            "operationId": "ApiV1ComparisonsSlugTallyGetTally",
            "parameters": {"slug": "$request.path.slug"},
        },
        "WithdrawIt": {
            "operationId": "ApiV1ComparisonsSlugVotesToolWithdrawVote",
            "parameters": {"slug": "$request.path.slug", "tool": "$request.path.tool"},
        },
    },
    ("/api/v1/bookmarks/{tool}", "put", "200"): {
        "Bookmarks": {"operationId": "ApiV1BookmarksListBookmarks"},
        "RemoveIt": {
            "operationId": "ApiV1BookmarksToolRemoveBookmark",
            "parameters": {"tool": "$request.path.tool"},
        },
    },
    ("/api/v1/subscriptions", "post", "202"): {"Comparisons": {"operationId": LIST}},
}


# Every time Python can hold, at any whole-minute offset: the edges (year 1 east of
# UTC, year 9999 west of it) have no UTC form, and once answered 500.
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
any_time = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]),
    st.datetimes(datetime.min, datetime.max, timezones=offsets).map(datetime.isoformat),
)


@pytest.fixture
def extreme_times() -> Iterator[None]:
    """``format: date-time`` values across Python's whole range, for this test only."""
    schemathesis.openapi.format("date-time", any_time)
    yield
    unregister_string_format("date-time")


def linked(raw: dict[str, Any]) -> dict[str, Any]:
    """The app's OpenAPI document with ``LINKS`` added."""
    for (path, method, status), links in LINKS.items():
        raw["paths"][path][method]["responses"][status]["links"] = links
    return raw


class EventLog:
    """Counts the live database's events, from this synchronous test, on a loop of its own."""

    def __init__(self, dsn: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(dsn))

    def count(self) -> int:
        n: int = self.loop.run_until_complete(self.conn.fetchval("select count(*) from events"))
        return n

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


@pytest.fixture
def event_log(live_dsn: str) -> Iterator[EventLog]:
    log = EventLog(live_dsn)
    yield log
    log.close()


@dataclass
class Tally:
    """What the run did: calls by status class, and refusals that appended events."""

    calls: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    operations: set[str] = field(default_factory=set)
    appended_on_refusal: list[str] = field(default_factory=list)


def reader(live_url: str) -> requests.Session:
    """A reader with cookies (reader id, CSRF), sending the CSRF header like a real client."""
    session = requests.Session()
    session.get(f"{live_url}/api/v1/comparisons", timeout=10).raise_for_status()
    token = session.cookies.get("csrftoken")
    assert token, "GET did not set the csrftoken cookie"
    session.headers["X-CSRFToken"] = token
    return session


def workflow(
    base: type[APIStateMachine], live_url: str, log: EventLog, tally: Tally
) -> type[APIStateMachine]:
    """The inferred state machine, calling the live server as a reader, checking each step."""

    class Workflow(base):  # type: ignore[valid-type, misc]
        def setup(self) -> None:
            self.session = reader(live_url)  # a new reader per scenario

        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {"session": self.session, "base_url": live_url, "timeout": 10}

        def step(self, input: StepInput) -> StepOutput:
            before = log.count()
            output: StepOutput = super().step(input)
            status = output.response.status_code
            tally.calls += 1
            tally.by_status[status // 100] = tally.by_status.get(status // 100, 0) + 1
            tally.operations.add(input.case.operation.label)
            if status >= 400 and log.count() != before:
                tally.appended_on_refusal.append(f"{input.case.operation.label} -> {status}")
            return output

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS)

    return Workflow


def test_stateful_sequences_never_fail_and_refusals_append_nothing(
    live_url: str, event_log: EventLog, extreme_times: None
) -> None:
    raw = requests.get(f"{live_url}/api/v1/schema/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(linked(raw))
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], allow_x00=True
    )
    tally = Tally()
    machine = workflow(schema.as_state_machine(), live_url, event_log, tally)
    settings = hypothesis.settings(
        max_examples=SCENARIOS,
        stateful_step_count=STEPS,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    run = hypothesis.stateful.get_state_machine_test(machine, settings=settings, _min_steps=2)
    hypothesis.seed(SEED)(run)()

    print(f"stateful: {tally.calls} calls, by status class {sorted(tally.by_status.items())}")
    assert tally.calls >= MIN_CALLS, tally
    assert tally.appended_on_refusal == [], tally.appended_on_refusal
    assert len(tally.operations) == 9, sorted(tally.operations)
    assert tally.by_status.get(2, 0) and tally.by_status.get(4, 0), tally.by_status
