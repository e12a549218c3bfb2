"""Mail tokens never reach the access log.

The links in mail carry their token in the query string (``/subscribe/confirm?token=``,
``/unsubscribe?token=``, and RFC 8058's one-click POST, whose URI a mail client posts to
as it is). The forms behind those pages post the token in their body, but the links
themselves cannot. uvicorn's access log prints the path with its query, so a filter on
its logger replaces every ``token`` value with ``[redacted]`` before any handler sees the
record, whatever the log configuration.
"""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"

_TOKEN = re.compile(r"(?<=[?&])(token=)[^&\s\"]*")


def redact(text: str) -> str:
    """``text`` with the value of every ``token`` query parameter replaced."""
    return _TOKEN.sub(rf"\g<1>{REDACTED}", text)


class TokenRedaction(logging.Filter):
    """Rewrites the arguments of an access-log record; the record is always kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_tokens_in_access_log() -> None:
    """Install ``TokenRedaction`` on uvicorn's access logger, once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, TokenRedaction) for f in logger.filters):
        logger.addFilter(TokenRedaction())
