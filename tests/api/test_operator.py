"""The operator's digest preview over HTTP: bearer token required, sends nothing."""

from __future__ import annotations

import pytest

from services.api.app import create_app
from services.core.config import Settings
from services.core.store import Pool
from tests.asgi import asgi_client
from tests.fixtures import CLOCK, WEEK, Sink

pytestmark = pytest.mark.calendar


async def test_preview_needs_the_operator_token(
    pool: Pool, settings: Settings, sink: Sink, catalog: None
) -> None:
    app = create_app(settings.with_(operator_token="op-secret"), clock=CLOCK)
    url = f"/operator/digest/preview?week={WEEK}"
    async with (
        app.lifespan(),
        asgi_client(app) as client,
    ):
        assert (await client.get(url)).status_code == 401
        wrong = await client.get(url, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        auth = {"Authorization": "Bearer op-secret"}
        html = await client.get(url, headers=auth)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "style-src 'unsafe-inline'" in html.headers["content-security-policy"]
        assert "Prompt Caching" in html.text and "unsubscribe?token=preview" in html.text
        text = await client.get(url + "&format=text", headers=auth)
        assert text.status_code == 200 and text.text.startswith("WEEKLY AI TOOL VERDICTS")
        bad = await client.get("/operator/digest/preview?week=2026-W99", headers=auth)
        assert bad.status_code == 400 and "not an ISO week" in bad.text
        empty = await client.get("/operator/digest/preview?week=2026-W40", headers=auth)
        assert empty.status_code == 404 and "nothing published" in empty.text
    assert sink.count() == 0


async def test_no_token_configured_means_no_access(settings: Settings, pool: Pool) -> None:
    app = create_app(settings, clock=CLOCK)
    async with (
        app.lifespan(),
        asgi_client(app) as client,
    ):
        response = await client.get(
            "/operator/digest/preview", headers={"Authorization": "Bearer None"}
        )
        assert response.status_code == 401
