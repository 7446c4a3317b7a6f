"""Undoing an import: the clients it created go, the values it overwrote come back, and any client changed in
WedSync (or by another import) since is kept as it is now and listed, never silently reverted.

What a job created is ``clients.created_job_id``; what it overwrote is ``sync_job_overwrites`` (jobs/upsert.py
writes both). A client counts as unchanged since the job when its version is still the one the job left: 1 for a
client it created, ``version_after`` for one it updated.
"""

from __future__ import annotations

import msgspec
import psycopg
from psycopg.rows import class_row

from webapp.queries.conflicts import CLIENT_FIELDS

UNDO_DAYS = 30  # how long a finished import can be taken back (housekeeping keeps what that needs this long)
_RESTORED = sorted(CLIENT_FIELDS | {"import_digest", "app_edits"})


class UndoPlan(msgspec.Struct, frozen=True):
    created: int  # clients the import created, to remove
    updated: int  # clients it updated, to put back
    kept: int  # of those, changed since: kept as they are


class KeptClient(msgspec.Struct, frozen=True):
    id: int
    name: str
    why: str


PLAN = """
SELECT (SELECT count(*) FROM clients WHERE supplier_id = %(sid)s AND created_job_id = %(job)s) AS created,
       (SELECT count(*) FROM sync_job_overwrites WHERE job_id = %(job)s) AS updated,
       (SELECT count(*) FROM clients WHERE supplier_id = %(sid)s AND created_job_id = %(job)s AND version <> 1)
     + (SELECT count(*) FROM sync_job_overwrites o JOIN clients c ON c.id = o.client_id
        WHERE o.job_id = %(job)s AND c.version <> o.version_after) AS kept
"""
KEPT = """
SELECT id, trim(partner1_first || ' ' || partner1_last) AS name, 'added by this import, changed since' AS why
FROM clients WHERE supplier_id = %(sid)s AND created_job_id = %(job)s AND version <> 1
UNION ALL
SELECT c.id, trim(c.partner1_first || ' ' || c.partner1_last), 'updated by this import, changed since'
FROM sync_job_overwrites o JOIN clients c ON c.id = o.client_id
WHERE o.job_id = %(job)s AND c.version <> o.version_after
ORDER BY 2, 1
LIMIT 200
"""
REMOVE_CREATED = """
DELETE FROM clients WHERE supplier_id = %(sid)s AND created_job_id = %(job)s AND version = 1
"""
RESTORE_UPDATED = f"""
UPDATE clients c SET ({", ".join(_RESTORED)}) = (
        SELECT {", ".join(_RESTORED)} FROM jsonb_populate_record(NULL::clients, o.before)
    ),
    version = c.version + 1, updated_at = now()
FROM sync_job_overwrites o
WHERE o.job_id = %(job)s AND c.id = o.client_id AND c.version = o.version_after
"""
FORGET = "DELETE FROM sync_job_overwrites WHERE job_id = %(job)s"


async def plan(conn: psycopg.AsyncConnection, supplier_id: int, job_id: int) -> UndoPlan:
    async with conn.cursor(row_factory=class_row(UndoPlan)) as cur:
        await cur.execute(PLAN, {"sid": supplier_id, "job": job_id})
        row = await cur.fetchone()
    assert row is not None
    return row


async def kept_clients(conn: psycopg.AsyncConnection, supplier_id: int, job_id: int) -> list[KeptClient]:
    async with conn.cursor(row_factory=class_row(KeptClient)) as cur:
        await cur.execute(KEPT, {"sid": supplier_id, "job": job_id})
        return await cur.fetchall()


async def undo(conn: psycopg.AsyncConnection, supplier_id: int, job_id: int) -> tuple[int, int]:
    """Remove what the job created and restore what it overwrote, where nothing changed since; (removed,
    restored). The caller marks the job undone in the same transaction."""
    params = {"sid": supplier_id, "job": job_id}
    removed = (await conn.execute(REMOVE_CREATED, params)).rowcount
    restored = (await conn.execute(RESTORE_UPDATED, params)).rowcount
    await conn.execute(FORGET, params)
    return removed, restored
