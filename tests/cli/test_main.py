"""The operator commands, run as a newcomer would: real processes, real exit codes."""

from __future__ import annotations

import asyncio
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

from services.cli.main import EMBEDDED_MODULES
from services.core import dev_servers, reader_actions
from services.core.catalog_import import DEMO_CATALOG
from services.core.config import SmtpTarget
from services.core.db import create_pool
from services.core.store import Pool
from services.core.subscriptions import confirm_subscription, request_subscription
from services.embedded import free_port, smtp_sink
from tests.fixtures import WEEK

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


class DevProcess:
    """`verdicts dev` started in ``folder`` as a developer would: no server configured,
    its data in ``folder/.verdicts``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
        env.update(PORT=str(self.port), PUBLIC_URL=f"http://127.0.0.1:{self.port}")
        self.proc = subprocess.Popen(
            [*VERDICTS, "dev"],
            env=env,
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        # Read as it comes: Ctrl-C only once the banner is out, as a developer would.
        self.reader = threading.Thread(
            target=lambda: self.lines.extend(self.proc.stdout or ()), daemon=True
        )
        self.reader.start()

    def wait_until_healthy(self) -> dict[str, object]:
        health: dict[str, object] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and (
            health.get("worker") != "ok" or not any("verdicts is running" in x for x in self.lines)
        ):
            time.sleep(0.5)
            try:
                url = f"http://127.0.0.1:{self.port}/healthz"
                with urllib.request.urlopen(url, timeout=2) as r:
                    health = json.load(r)
            except OSError:
                continue
        return health

    def stop(self) -> str:
        """Ctrl-C, then everything it printed."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=60)
        self.reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return "".join(self.lines)


# No SECRET_KEY either: `verdicts dev` is the one place the built-in key may sign.
CONFIGURED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SMTP_URL",
    "PUBLIC_URL",
    "SECRET_KEY",
    "VERDICTS_DATA_DIR",
    "VERDICTS_DEVELOPMENT",
)


def beside(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A `verdicts` command in another shell in ``folder``, nothing configured but ``env``."""
    clean = {k: v for k, v in os.environ.items() if k not in CONFIGURED}
    return subprocess.run(
        [*VERDICTS, *args],
        env={**clean, **env},
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def subscribe(dsn: str, address: str) -> None:
    pool = await create_pool(dsn, size=2)
    try:
        await confirm_subscription(pool, await request_subscription(pool, address))
    finally:
        await pool.close()


def digests_to(maildir: Path, address: str) -> list[str]:
    mails = [p.read_text() for p in maildir.iterdir()]
    return [m for m in mails if f"To: {address}" in m and "Weekly AI Tool Verdicts," in m]


async def test_dev_runs_everything_and_the_commands_beside_it_follow(tmp_path: Path) -> None:
    dev = DevProcess(tmp_path)
    published = tmp_path / ".verdicts" / "env"
    try:
        health = await asyncio.to_thread(dev.wait_until_healthy)
        assert health.get("ok") is True and health.get("worker") == "ok", (health, dev.lines)
        assert health["events"] == 11, "the demo catalog is loaded"
        assert (tmp_path / ".verdicts" / "pgdata" / "PG_VERSION").exists()
        assert dev_servers.state(published) is dev_servers.FileState.LIVE
        assert published.stat().st_mode & 0o077 == 0, "readable by its owner only"
        urls = dev_servers.read(published)
        assert urls["PUBLIC_URL"] == f"http://127.0.0.1:{dev.port}"

        # Another shell, same folder, nothing configured: the same system.
        verified = await asyncio.to_thread(beside, tmp_path, "verify")
        assert verified.returncode == 0 and "no drift" in verified.stderr, verified.stderr
        await subscribe(urls["DATABASE_URL"], "second-shell@example.com")
        sent = await asyncio.to_thread(beside, tmp_path, "digest", "send", "--week", WEEK)
        assert sent.returncode == 0 and "1 recipient(s)" in sent.stderr, sent.stderr
        (digest,) = digests_to(tmp_path / ".verdicts" / "mail" / "new", "second-shell@example.com")
        assert f"http://127.0.0.1:{dev.port}/unsubscribe?token=" in digest, "links to this site"

        # The process's own settings still win over the published ones.
        port = free_port()
        elsewhere = f"postgresql://nobody@127.0.0.1:{port}/verdicts"
        overridden = await asyncio.to_thread(beside, tmp_path, "verify", DATABASE_URL=elsewhere)
        assert overridden.returncode == 2, overridden.stderr
        assert f"('127.0.0.1', {port})" in overridden.stderr, "it tried the server it was given"
    finally:
        out = await asyncio.to_thread(dev.stop)
    assert dev.proc.returncode == 0, out
    said = " ".join(out.split())
    assert "verdicts is running" in said and "every mail is a file in" in said, out
    assert f"published {published}" in said, out
    assert not published.exists(), "withdrawn when dev stops"
    after = await asyncio.to_thread(beside, tmp_path, "verify")
    assert after.returncode == 2 and "DATABASE_URL is not set" in after.stderr, after.stderr


def test_a_file_left_by_a_dev_that_died_is_not_followed(dsn: str, tmp_path: Path) -> None:
    published = tmp_path / ".verdicts" / "env"
    # Published by a process that then ends without withdrawing it, as a killed dev would.
    subprocess.run(
        [sys.executable, "-c", "import sys; from pathlib import Path; "
         "from services.core import dev_servers; "
         "dev_servers.publish(Path(sys.argv[1]), {'DATABASE_URL': sys.argv[2]})",
         str(published), dsn],
        check=True, timeout=60,
    )  # fmt: skip
    assert dev_servers.state(published) is dev_servers.FileState.STALE
    assert dev_servers.read(published) == {}
    result = beside(tmp_path, "verify")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no longer running" in result.stderr and str(published) in result.stderr
    # While a live dev holds it, the same file is followed.
    live = dev_servers.publish(published, {"DATABASE_URL": dsn})
    try:
        assert beside(tmp_path, "verify").returncode == 0
        again = beside(tmp_path, "dev")
        assert again.returncode == 2 and "already running in this folder" in again.stderr
    finally:
        live.withdraw()
    assert not published.exists()


def test_dev_without_the_embedded_extra_says_what_to_install(tmp_path: Path) -> None:
    # Each module of the extra made unimportable in turn, as in a production install.
    for module in EMBEDDED_MODULES:
        hiding = tmp_path / f"hide_{module}"
        hiding.mkdir()
        (hiding / "sitecustomize.py").write_text(f"import sys; sys.modules[{module!r}] = None")
        result = beside(tmp_path, "dev", PYTHONPATH=str(hiding))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert module in lines[0] and "pip install 'verdicts[embedded]'" in lines[0]


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
