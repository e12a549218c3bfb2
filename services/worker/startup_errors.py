"""What stops the worker before it runs, as one line on stderr and exit code 2.

``arq services.worker.settings.WorkerSettings`` (and its ``--check``) runs arq's own
command, which prints a traceback for an unreachable Redis or PostgreSQL or a setting
that is missing. The settings module installs this hook so that those read like every
other operator error; anything else keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

from redis.exceptions import RedisError

from services.core.errors import VerdictsError


def _describe(exc: BaseException) -> str | None:
    if isinstance(exc, RedisError):
        return f"cannot connect to Redis (REDIS_URL): {exc}"
    if isinstance(exc, VerdictsError):
        return str(exc)
    return None


def install() -> None:
    """Route the worker's startup errors to one line and exit code 2."""
    previous = sys.excepthook

    def one_line(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        message = _describe(exc)
        if message is None:
            previous(kind, exc, tb)
            return
        sys.stdout.flush()
        sys.stderr.write(f"error: {message}\n")
        sys.stderr.flush()
        # An excepthook cannot set the exit code (Python exits 1 after it), and the
        # process is ending anyway: nothing is left to clean up but the interpreter.
        os._exit(2)

    sys.excepthook = one_line
