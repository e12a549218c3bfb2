"""Applies `schema/*.sql` in name order, each once, safely from concurrent processes.

Each file runs in its own transaction and is recorded with its checksum; a changed
file that was already applied is an error, not a silent skip. An advisory lock held
on this dedicated connection (never a pooled one, which would drop it on release)
serialises concurrent runners: the second waits, then finds nothing left to do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .config import PROJECT_ROOT
from .db import connect
from .errors import VerdictsError

SCHEMA_DIR = PROJECT_ROOT / "schema"
_LOCK_KEY = 0x76657264  # "verd"


class MigrationChangedError(VerdictsError):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"migration {name} was changed after it was applied; add a new file instead"
        )
        self.name = name


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = SCHEMA_DIR) -> list[Migration]:
    return [Migration(p.name, p.read_text()) for p in sorted(directory.glob("*.sql"))]


async def migrate(dsn: str, *, directory: Path = SCHEMA_DIR) -> list[str]:
    """Apply pending migrations; returns the names applied by this call."""
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
        for m in load_migrations(directory):
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
