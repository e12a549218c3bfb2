"""The ``Idempotency-Key`` of an unsafe API request, as the request it names.

A route asks for ``idempotency`` (an ``IdempotentRequest`` or ``None``) and hands it to
the core: the key, the reader whose key it is, and the method, path and a hash of the
raw body it came with, so the same key with another request is refused (422
``idempotency-key-reused``) rather than answered with the first one's result. The key
holds for ``IDEMPOTENCY_KEY_LIFETIME`` (a day) from the request, by the app's clock.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from services.core.clock import Clock
from services.core.store import IDEMPOTENCY_KEY_LIFETIME, IdempotentRequest
from services.core.streams import READER

from .v1.schemas import IdempotencyKey


async def provide_idempotency(
    request: Request[Any, Any, Any],
    reader_id: NamedDependency[str],
    clock: NamedDependency[Clock],
    idempotency_key: IdempotencyKey = None,
) -> IdempotentRequest | None:
    """The request named by its ``Idempotency-Key`` header; ``None`` without one."""
    if idempotency_key is None:
        return None
    return IdempotentRequest.of(
        idempotency_key,
        caller=READER.name(reader_id),
        method=request.method,
        path=request.url.path,
        body=await request.body(),
        expires_at=clock() + IDEMPOTENCY_KEY_LIFETIME,
    )
