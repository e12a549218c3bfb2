"""Applies the migrations (``schema/*.sql``; in an installed package, ``services.schema``)
in name order, each once, safely from concurrent processes.

Each file runs in its own transaction and is recorded with its checksum; a changed
file that was already applied is an error, not a silent skip. An advisory lock held
on this dedicated connection (never a pooled one, which would drop it on release)
serialises concurrent runners: the second waits, then finds nothing left to do.
Finding no migration files at all is an error: an install without its schema would
otherwise report "nothing pending" on an empty database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .db import connect
from .errors import VerdictsError
from .resources import package_path

_LOCK_KEY = 0x76657264  # "verd"


class MigrationChangedError(VerdictsError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"migration {name} was changed after it was applied; add a new file instead"
        )
        self.name = name


class NoMigrationsError(VerdictsError):
    def __init__(self, directory: Path) -> None:
        super().__init__(
            f"no migrations (*.sql) in {directory}: this install lacks its schema files;"
            " reinstall verdicts from its wheel or source"
        )
        self.directory = directory


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migrations in ``directory`` (default: the package's schema), in name order."""
    directory = directory or package_path("services.schema")
    found = [Migration(p.name, p.read_text()) for p in sorted(directory.glob("*.sql"))]
    if not found:
        raise NoMigrationsError(directory)
    return found


async def migrate(dsn: str, *, directory: Path | None = None) -> list[str]:
    """Apply pending migrations; returns the names applied by this call."""
    migrations = load_migrations(directory)
    conn = await connect(dsn)
    try:
        await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            "create table if not exists schema_migrations ("
            " name text primary key, checksum text not null,"
            " applied_at timestamptz not null default now())"
        )
        done: dict[str, str] = {
            r[0]: r[1] for r in await conn.fetch("select name, checksum from schema_migrations")
        }
        applied = []
        for m in migrations:
            if m.name in done:
                if done[m.name] != m.checksum:
                    raise MigrationChangedError(m.name)
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "insert into schema_migrations (name, checksum) values ($1, $2)",
                    m.name,
                    m.checksum,
                )
            applied.append(m.name)
        return applied
    finally:
        await conn.close()
