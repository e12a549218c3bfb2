"""An httpx client that calls the app in-process, on the test's own event loop."""

from __future__ import annotations

from typing import Any, cast

import httpx
from litestar import Litestar


def asgi_client(app: Litestar, base_url: str = "http://test", **kwargs: Any) -> httpx.AsyncClient:
    """``httpx.AsyncClient`` over ``httpx.ASGITransport``; ``kwargs`` go to the client.

    httpx types its ASGI callable with plain dicts, Litestar with typed scopes: the same
    protocol, hence the cast.
    """
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=cast(Any, app)), base_url=base_url, **kwargs
    )
