"""The worker process refuses an unsafe SECRET_KEY before it starts: one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.core.config import DEV_SECRET

ARQ = [sys.executable, "-m", "arq", "services.worker.settings.WorkerSettings"]


@pytest.mark.parametrize("secret_key", [None, DEV_SECRET, "x" * 31], ids=["unset", "dev", "31"])
@pytest.mark.parametrize("check", [False, True], ids=["run", "check"])
def test_the_worker_refuses_an_unsafe_secret_key(
    tmp_path: Path, redis_url: str, secret_key: str | None, check: bool
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "VERDICTS_DEVELOPMENT")}
    env |= {"REDIS_URL": redis_url, "DATABASE_URL": "postgresql://127.0.0.1:1/none"}
    if secret_key:
        env["SECRET_KEY"] = secret_key
    done = subprocess.run(
        [*ARQ, *(["--check"] if check else [])],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: SECRET_KEY") and done.stdout == ""
