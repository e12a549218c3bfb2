"""The servers a running ``verdicts dev`` uses, published to the commands beside it.

``verdicts dev`` writes their settings to ``<data dir>/env`` (``.verdicts/env``), one
``NAME=value`` line each, and holds an exclusive lock on that file for as long as it
runs; it deletes the file when it stops. Settings are read from the file only while
that lock is held. A file left by a ``verdicts dev`` that was killed (the kernel drops
the locks of a dead process) is *stale*: it is ignored, and the errors about a missing
setting say so, so no command talks to a server that is gone.
"""

from __future__ import annotations

import fcntl
import os
import shlex
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

DATA_DIR = ".verdicts"
"""Where ``verdicts dev`` keeps its data unless ``VERDICTS_DATA_DIR`` says otherwise."""

PUBLISHED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "PUBLIC_URL",
    "SECRET_KEY",
    "VERDICTS_DEVELOPMENT",
)
"""What ``verdicts dev`` publishes: what a command needs to act on the same system, in
the development mode that system runs in (its built-in key is refused elsewhere)."""


class FileState(StrEnum):
    ABSENT = "absent"
    LIVE = "live"
    STALE = "stale"


def env_file(data_dir: str | Path) -> Path:
    """The file ``verdicts dev`` publishes in ``data_dir``."""
    return Path(data_dir).absolute() / "env"


class Publication:
    """The published file, locked until ``withdraw``."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def withdraw(self) -> None:
        """Delete the file, then let go of its lock."""
        self.path.unlink(missing_ok=True)
        os.close(self._fd)


def publish(path: Path, settings: Mapping[str, str]) -> Publication:
    """Write ``settings`` (the ``PUBLISHED`` names) to ``path``, locked by this process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # Locked before it is renamed into place, so no reader ever sees it unlocked.
    fcntl.flock(fd, fcntl.LOCK_EX)
    lines = [f"# written by verdicts dev (pid {os.getpid()}); deleted when it stops"]
    lines += [f"{name}={shlex.quote(settings[name])}" for name in PUBLISHED if name in settings]
    os.write(fd, ("\n".join(lines) + "\n").encode())
    os.replace(draft, path)
    return Publication(path, fd)


def _inspect(path: Path) -> tuple[FileState, str]:
    try:
        file = path.open()
    except FileNotFoundError:
        return FileState.ABSENT, ""
    with file:  # closing it drops a lock taken below
        try:
            fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return FileState.LIVE, file.read()
        return FileState.STALE, ""


def state(path: Path) -> FileState:
    """Whether ``path`` is absent, held by a running ``verdicts dev``, or stale."""
    return _inspect(path)[0]


def read(path: Path) -> dict[str, str]:
    """The settings in ``path`` while a running ``verdicts dev`` holds it; else nothing."""
    found, text = _inspect(path)
    values: dict[str, str] = {}
    if found is not FileState.LIVE:
        return values
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = shlex.split(line)[0].partition("=")
            if name in PUBLISHED:
                values[name] = value
    return values
