"""Request parameters every route shares, validated by Litestar before a handler runs.

A slug is the catalog's (``events.SLUG_PATTERN``) wherever it comes in, page or API,
path or query: anything else (a NUL byte, a quote, a megabyte) is a 400 before it can
reach a query or a template.
"""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter, QueryParameter

from services.core.events import SLUG_PATTERN

SLUG_MAX_LENGTH = 100
_SLUG_HELP = "A catalog slug: lowercase letters and digits in dash-separated words."

SlugPath = Annotated[
    str, PathParameter(pattern=SLUG_PATTERN, max_length=SLUG_MAX_LENGTH, description=_SLUG_HELP)
]

SlugQuery = Annotated[
    str | None,
    QueryParameter(pattern=SLUG_PATTERN, max_length=SLUG_MAX_LENGTH, description=_SLUG_HELP),
]
