"""Schemathesis against the app's own OpenAPI document, over real HTTP to uvicorn:
no 5xx for any generated request, valid or not, and every response (status code,
content type, headers, body) matches what the document promises."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks
from schemathesis.core.result import Ok

from .conftest import FILES, FILES_VS_AZURE
from .live import live_dsn, live_url

__all__ = ["live_dsn", "live_url"]

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

# Random slugs mostly find nothing; pinning them to real ones reaches the 2xx answers.
REAL = {"slug": FILES_VS_AZURE, "tool": FILES}
EXAMPLES = 25


@pytest.fixture(scope="module")
def reader_session(live_url: str) -> requests.Session:
    """A reader with cookies (reader id, CSRF), sending the CSRF header like a real client."""
    session = requests.Session()
    session.get(f"{live_url}/api/v1/comparisons", timeout=10).raise_for_status()
    token = session.cookies.get("csrftoken")
    assert token, "GET did not set the csrftoken cookie"
    session.headers["X-CSRFToken"] = token
    return session


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("pinned", [False, True], ids=["random-paths", "real-paths"])
def test_every_operation_conforms(
    live_url: str, reader_session: requests.Session, mode: GenerationMode, pinned: bool
) -> None:
    schema = schemathesis.openapi.from_url(f"{live_url}/api/v1/schema/openapi.json")
    operations = [
        r.ok() if isinstance(r, Ok) else pytest.fail(str(r.err()))
        for r in schema.get_all_operations()
    ]
    assert len(operations) == 9
    for operation in operations:
        params = [p.name for p in operation.path_parameters]
        path_parameters = {k: REAL[k] for k in params} if pinned and params else None
        negatable = any((operation.query, operation.headers, operation.body)) or (
            bool(params) and not pinned
        )
        if (pinned and not params) or (mode is GenerationMode.NEGATIVE and not negatable):
            continue  # nothing to pin, or nothing that could be invalid
        strategy = operation.as_strategy(mode, path_parameters=path_parameters)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def exercise(case: Any) -> None:
            response = case.call(base_url=live_url, session=reader_session, timeout=10)
            case.validate_response(response, checks=CHECKS)

        exercise()
