"""Domain errors: what callers of the core catch. asyncpg errors never cross this line."""

from __future__ import annotations


class VerdictsError(Exception):
    """Base of every error the core raises on purpose."""


class StreamVersionConflict(VerdictsError):
    """Another writer appended to the stream after the caller read it."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} moved past expected version {expected_version}: "
            "someone else appended first; re-read and retry"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version


class UnknownComparison(VerdictsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no comparison {slug!r}")
        self.slug = slug


class UnknownTool(VerdictsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no tool {slug!r}")
        self.slug = slug


class ToolNotInComparison(VerdictsError):
    def __init__(self, comparison: str, tool: str, tools: tuple[str, str]) -> None:
        super().__init__(
            f"tool {tool!r} is not part of comparison {comparison!r} (it compares "
            f"{tools[0]!r} and {tools[1]!r})"
        )
        self.comparison = comparison
        self.tool = tool
        self.tools = tools


class ComparisonWithdrawn(VerdictsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"comparison {slug!r} was withdrawn and takes no more votes")
        self.slug = slug


class CatalogError(VerdictsError):
    """A catalog file could not be read or does not fit the catalog's shape."""
