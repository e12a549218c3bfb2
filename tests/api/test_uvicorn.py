"""The production app factory under a real uvicorn on loopback, run the way an operator
runs it: it refuses an unsafe SECRET_KEY."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.core.config import DEV_SECRET
from services.embedded import free_port

FACTORY = [sys.executable, "-m", "uvicorn", "--factory", "services.api.app:create_app"]
SECRET = "uvicorn-test-secret-of-at-least-32-bytes"


def production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    """The environment with only ``values`` of ours: no SECRET_KEY, no development marker."""
    ours = ("SECRET_KEY", "VERDICTS_DEVELOPMENT", "TRUSTED_PROXIES", "DATABASE_URL", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return env | {"PUBLIC_URL": "http://127.0.0.1", **values}


@pytest.mark.parametrize(
    "secret_key",
    [None, DEV_SECRET, "short", f"{SECRET},an-old-key-too-short"],
    ids=["unset", "development-key", "short", "short-old-key"],
)
def test_the_api_refuses_to_start_with_an_unsafe_secret_key(
    tmp_path: Path, redis_url: str, secret_key: str | None
) -> None:
    keys = {"SECRET_KEY": secret_key} if secret_key else {}
    env = production_env(
        tmp_path, DATABASE_URL="postgresql://127.0.0.1:1/none", REDIS_URL=redis_url, **keys
    )
    done = subprocess.run(
        [*FACTORY, "--port", str(free_port())],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "SECRET_KEY" in line
