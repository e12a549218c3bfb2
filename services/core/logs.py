"""Logs: one JSON object a line (readable lines under ``verdicts dev``).

Code logs through the standard library (``logging.getLogger(__name__)``), and so do
uvicorn and arq; structlog's ``ProcessorFormatter`` renders every record. Each line
carries what is bound for the work in hand: ``request_id`` in the API (the id the
events of that request store in their metadata), ``job_id`` in the worker.

No line carries an email address or a token: nothing logs them on purpose, and
``redact`` masks any that an exception message or a library would bring along.

arq logs a start and a finish line for every job, and the worker's cron ticks run
every two seconds: ``QuietJobTicks`` drops those lines (and arq's periodic health
line), and the jobs log one line themselves when they did something.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TextIO

import msgspec
import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, merge_contextvars
from structlog.stdlib import ExtraAdder, ProcessorFormatter, add_log_level, add_logger_name
from structlog.typing import EventDict, Processor

from .config import load_settings

LogFormat = Literal["json", "console"]

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
_TOKEN = re.compile(r"(token[=:]\s*)[^&\s\"'<>]+", re.IGNORECASE)


def _mask(text: str) -> str:
    return _TOKEN.sub(r"\1[redacted]", _EMAIL.sub("[address]", text))


def redact(_: Any, __: str, event: EventDict) -> EventDict:
    """structlog processor: mask addresses and token values in every string field."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = _mask(value)
    return event


def _add_pid(_: Any, __: str, event: EventDict) -> EventDict:
    # Several processes share one log (uvicorn --workers, a worker beside them).
    event["pid"] = os.getpid()
    return event


def _drop_message(_: Any, __: str, event: EventDict) -> EventDict:
    # ExtraAdder copies the record's formatted ``message``: ``event`` holds it already.
    event.pop("message", None)
    return event


_encoder = msgspec.json.Encoder(enc_hook=str)


def _json(event: EventDict, **_: Any) -> str:
    return _encoder.encode(event).decode()


def formatter(fmt: LogFormat = "json") -> ProcessorFormatter:
    """The formatter every handler of ours uses."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=_json)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return ProcessorFormatter(
        foreign_pre_chain=[
            merge_contextvars,
            add_log_level,
            add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_pid,
            ExtraAdder(),
            _drop_message,
        ],
        processors=[
            ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )


def formatter_from_env() -> ProcessorFormatter:
    """``formatter`` in the format ``LOG_FORMAT`` names (for dictConfig's ``()``)."""
    return formatter(load_settings().log_format)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        """Always ``sys.stderr``: ``StreamHandler.setStream`` is not for this one."""


_ARQ_TICKS = ("%6.2fs → ", "%6.2fs ← ", "recording health")


class QuietJobTicks(logging.Filter):
    """Drops arq's per-job start and finish lines and its periodic health line;
    failures, retries and aborts stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_ARQ_TICKS))


def configure_logging(fmt: LogFormat = "json", level: str = "INFO") -> None:
    """Route every record, ours, uvicorn's and arq's, through one handler on stderr.

    Safe to call again (an app factory runs once per test): it replaces its own
    handler and leaves other handlers on the root logger (a test runner's) alone."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        own = logging.getLogger(name)
        own.handlers.clear()
        own.propagate = True
    # uvicorn's access line holds the query string, where mail links carry their
    # tokens; the API logs its own line with the route and the request id instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    arq = logging.getLogger("arq.worker")
    if not any(isinstance(f, QuietJobTicks) for f in arq.filters):
        arq.addFilter(QuietJobTicks())


LOG_CONFIG = Path(__file__).with_name("logging.json")
"""The same setup as a ``dictConfig`` file, for a process's very first lines, before
the app or the worker configures logging: ``uvicorn --log-config`` takes the file
(its ``--workers`` supervisor logs too), ``arq --custom-log-dict`` takes ``LOGGING``."""

LOGGING: dict[str, Any] = json.loads(LOG_CONFIG.read_text())


@contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Every line logged inside carries ``fields`` (a request id, a job id)."""
    with bound_contextvars(**fields):
        yield


def bind(**fields: str) -> None:
    """Every line logged from here to the end of the current task carries ``fields``."""
    bind_contextvars(**fields)
