"""Ordered plain-SQL migrations from ``migrations/NNNN_name.sql``, each applied once in its own transaction.

Hand-written on purpose (about 50 lines): yoyo-migrations, the maintained plain-SQL option, would bring
its own connection URIs, lock table and transaction rules around psycopg 3; what we need is a record
table, a checksum so an edited applied file is caught, and an advisory lock so two processes starting
at once cannot both migrate.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import msgspec
import psycopg

from core.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
_LOCK_ID = 0x7765_6473  # "weds": any fixed bigint shared by every process of this app
_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"unexpected file name in migrations/: {path.name}")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    return found


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the names applied."""
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_ID])
        try:
            conn.execute(CREATE_TABLE)
            done = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}
            for migration in discover(directory):
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(f"{migration.name} was changed after it was applied")
                    continue
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        [migration.version, migration.name, migration.checksum],
                    )
                applied_now.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_ID])
    return applied_now
