"""Domain errors: what callers of the core catch. asyncpg errors never cross this line."""

from __future__ import annotations


class VerdictsError(Exception):
    """Base of every error the core raises on purpose."""


class ConfigurationError(VerdictsError):
    """A setting is missing or unusable; the message names its variable."""


class DatabaseUrlError(VerdictsError):
    """``DATABASE_URL`` leads nowhere usable: not a URL, no such database, credentials
    refused. Unlike an outage (``db.DatabaseUnavailableError``), waiting will not help."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"cannot connect to the database at {target}: {reason}")
        self.target = target
        self.reason = reason


class StreamVersionConflictError(VerdictsError):
    """Another writer appended to the stream after the caller read it."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} moved past expected version {expected_version}: "
            "someone else appended first; re-read and retry"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version


class IdempotencyKeyReusedError(VerdictsError):
    """An ``Idempotency-Key`` already used for another request (method, path or body)."""

    def __init__(self, key: str, method: str, path: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for another request ({method} {path}"
            " with its own body): a retry sends the same method, path and body with it;"
            " a new request needs a new key"
        )
        self.key = key
        self.method = method
        self.path = path


class UnknownComparisonError(VerdictsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no comparison {slug!r}")
        self.slug = slug


class UnknownToolError(VerdictsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"no tool {slug!r}")
        self.slug = slug


class ToolNotInComparisonError(VerdictsError):
    def __init__(self, comparison: str, tool: str, tools: tuple[str, str]) -> None:
        super().__init__(
            f"tool {tool!r} is not part of comparison {comparison!r} (it compares "
            f"{tools[0]!r} and {tools[1]!r})"
        )
        self.comparison = comparison
        self.tool = tool
        self.tools = tools


class ComparisonWithdrawnError(VerdictsError):
    def __init__(self, slug: str) -> None:
        super().__init__(f"comparison {slug!r} was withdrawn and takes no more votes")
        self.slug = slug


class CatalogError(VerdictsError):
    """A catalog file could not be read or does not fit the catalog's shape."""


class UnknownSubscriberError(VerdictsError):
    def __init__(self, subscriber_id: str) -> None:
        super().__init__(f"no subscriber {subscriber_id}")
        self.subscriber_id = subscriber_id


class InvalidEmailError(VerdictsError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"not a usable email address: {reason}")
        self.reason = reason


class InvalidTokenError(VerdictsError):
    """A link's token is forged, mangled or (``expired``) too old for its purpose."""

    def __init__(self, purpose: str, *, expired: bool) -> None:
        what = "has expired" if expired else "is not valid"
        super().__init__(f"this {purpose} link {what}")
        self.purpose = purpose
        self.expired = expired


class InvalidWeekError(VerdictsError):
    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"not an ISO week: {text!r} ({reason}); write it like 2026-W47")
        self.text = text


class InvalidTimeError(VerdictsError):
    """A moment this system cannot place: no zone offset, or outside years 1 to 9999 in UTC."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"not a usable time: {text} ({reason})")
        self.text = text
