"""The operator commands, run as a newcomer would: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from services.core import reader_actions
from services.core.catalog_import import DEMO_CATALOG
from services.core.config import SmtpTarget
from services.core.store import Pool
from services.embedded import free_port, smtp_sink

VERDICTS = [sys.executable, "-m", "services.cli"]


def run(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    return subprocess.run([*VERDICTS, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_import_replay_verify_tally(pool: Pool, dsn: str) -> None:
    first = run(dsn, "catalog", "import", str(DEMO_CATALOG))
    assert first.returncode == 0, first.stderr
    assert "11 event(s) appended" in first.stderr
    assert (
        "0 event(s) appended, 11 unchanged"
        in run(dsn, "catalog", "import", str(DEMO_CATALOG)).stderr
    )

    cmp, tool = "claude-files-api-vs-azure-ai-foundry-voice-router", "claude-files-api"
    await reader_actions.cast_vote(pool, str(uuid.uuid4()), cmp, tool, "ship")
    replayed = run(dsn, "replay")
    assert replayed.returncode == 0, replayed.stderr
    assert "rebuilt catalog, community, subscribers, deliveries from 12 events" in replayed.stderr

    ok = run(dsn, "verify")
    assert ok.returncode == 0 and "no drift" in ok.stderr
    tally = run(dsn, "tally", cmp)
    assert tool in tally.stdout and "100%" in tally.stdout

    await pool.execute(
        "insert into counter_deltas (metric, subject, day, delta)"
        " values ('ship', $1, current_date, 5)",
        f"{cmp}/{tool}",
    )
    drift = run(dsn, "verify")
    assert drift.returncode == 1
    assert "drifted" in drift.stderr and "6/0" in drift.stderr and "1/0" in drift.stderr


def test_errors_are_one_line_not_tracebacks(dsn: str, tmp_path: Path) -> None:
    bad = tmp_path / "c.json"
    bad.write_text(json.dumps({"tools": [{"slug": "x"}]}))
    result = run(dsn, "catalog", "import", str(bad))
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    unknown = run(dsn, "replay", "nope")
    assert unknown.returncode == 2 and "no projection 'nope'" in unknown.stderr


def test_dev_starts_everything_embedded_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    # No SECRET_KEY either: `verdicts dev` is the one place the built-in key may sign.
    unset = ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "SECRET_KEY", "VERDICTS_DEVELOPMENT")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        VERDICTS_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    proc = subprocess.Popen(
        [*VERDICTS, "dev"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    # Read as it comes: Ctrl-C only once the banner is out, as a developer would.
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        health: dict[str, object] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (
            health.get("worker") != "ok" or not any("verdicts is running" in x for x in lines)
        ):
            time.sleep(0.5)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    health = json.load(r)
            except OSError:
                continue
        assert health.get("ok") is True and health.get("worker") == "ok", health
        assert health["events"] == 11, "the demo catalog is loaded"
        assert (tmp_path / "data" / "pgdata" / "PG_VERSION").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
        proc.stdout.close()
    out = "".join(lines)
    assert proc.returncode == 0, out
    said = " ".join(out.split())
    assert "verdicts is running" in said and "every mail is a file in" in said, out


def test_the_dev_smtp_sink_files_every_mail_where_it_says(tmp_path: Path) -> None:
    maildir = tmp_path / "mail"
    maildir.mkdir()  # a folder left by an earlier run, without Maildir's subfolders
    with (
        smtp_sink(maildir) as url,
        smtplib.SMTP("127.0.0.1", SmtpTarget.parse(url).port, timeout=10) as smtp,
    ):
        smtp.sendmail("a@example.test", ["b@example.test"], b"Subject: hi\r\n\r\nhello\r\n")
    (filed,) = (maildir / "new").iterdir()
    assert b"Subject: hi" in filed.read_bytes()
