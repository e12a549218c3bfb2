"""The file system the ``/static`` router reads: the local one, minus a crash.

``os.stat`` raises ``ValueError`` for a path with a NUL byte in it (``/static/site.css%00``),
which Litestar's static router lets through as a 500. No file has such a name, so it is
a file not found: a 404.
"""

from __future__ import annotations

from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.types import PathType
from litestar.types.file_types import FileInfo


class StaticFileSystem(BaseLocalFileSystem):
    """``BaseLocalFileSystem`` for which a path with a NUL byte names no file."""

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        if "\x00" in str(path):
            raise FileNotFoundError(path)
        return await super().info(path, **kwargs)
