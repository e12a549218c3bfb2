"""The request class of ``/api/v1``: a JSON body too deeply nested is the client's error.

msgspec stops decoding at a fixed depth with ``RecursionError``, which Litestar does
not expect from a decoder and answers with a 500. Here it becomes the
``SerializationException`` Litestar turns into a 400 (``/problems/invalid-request``).
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException


class JSONRequest(Request[Any, Any, Any]):
    """``Request`` whose ``json()`` refuses a body nested too deeply to decode."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise SerializationException("the JSON body is nested too deeply") from None
