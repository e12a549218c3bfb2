"""An operator command whose database does not answer says so in one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

from services.embedded import free_port


def test_an_unreachable_database_is_one_line_and_exit_2() -> None:
    env = {**os.environ, "DATABASE_URL": f"postgresql://verdicts@127.0.0.1:{free_port()}/verdicts"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "digest", "status", "--week", "2026-W47"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: the database is unavailable"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
