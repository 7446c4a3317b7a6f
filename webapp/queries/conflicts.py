"""Fields a re-import found changed both in WedSync and in the file (jobs/upsert.py lists them): the job page shows
each with both values, and the photographer keeps the app's value or takes the file's."""

from __future__ import annotations

import datetime as dt

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import class_row

from core.importing.records import RECORD_FIELDS

_DATE_FIELDS = frozenset({"wedding_date", "inquiry_date", "booking_date"})
# The fields an import writes and the app may change, from the one record definition.
CLIENT_FIELDS = frozenset(f for f in RECORD_FIELDS if f not in ("external_id", "notes"))


class JobConflict(msgspec.Struct, frozen=True):
    id: int
    client_id: int
    client_name: str
    field: str
    app_value: str | None
    file_value: str | None
    resolved: str | None


JOB_CONFLICTS = """
SELECT x.id, x.client_id, trim(c.partner1_first || ' ' || c.partner1_last) AS client_name, x.field, x.app_value,
       x.file_value, x.resolved
FROM sync_job_conflicts x JOIN clients c ON c.id = x.client_id
WHERE x.supplier_id = %(sid)s AND x.job_id = %(job)s AND c.deleted_at IS NULL ORDER BY x.id LIMIT %(limit)s
"""
GET_CONFLICT = """
SELECT x.id, x.client_id, '' AS client_name, x.field, x.app_value, x.file_value, x.resolved
FROM sync_job_conflicts x WHERE x.job_id = %(job)s AND x.id = %(id)s
"""
MARK_RESOLVED = "UPDATE sync_job_conflicts SET resolved = %(choice)s WHERE id = %(id)s"
# The file's value replaces the app's, and the field follows the file again from now on.
_TAKE_FILE = """
UPDATE clients SET {field} = %(value)s, app_edits = nullif(app_edits - %(name)s, '{{}}'::jsonb),
    version = version + 1, updated_at = now()
WHERE id = %(client)s
"""


async def job_conflicts(
    conn: psycopg.AsyncConnection, supplier_id: int, job_id: int, limit: int = 100
) -> list[JobConflict]:
    async with conn.cursor(row_factory=class_row(JobConflict)) as cur:
        await cur.execute(JOB_CONFLICTS, {"sid": supplier_id, "job": job_id, "limit": limit})
        return await cur.fetchall()


async def resolve(conn: psycopg.AsyncConnection, job_id: int, conflict_id: int, choice: str) -> JobConflict | None:
    """Keep the app's value (``choice`` "app") or take the file's ("file"); None when there is no such conflict."""
    async with conn.cursor(row_factory=class_row(JobConflict)) as cur:
        await cur.execute(GET_CONFLICT, {"job": job_id, "id": conflict_id})
        conflict = await cur.fetchone()
    if conflict is None or conflict.field not in CLIENT_FIELDS or choice not in ("app", "file"):
        return None
    if choice == "file":
        value: object = conflict.file_value
        if conflict.field in _DATE_FIELDS and conflict.file_value:
            value = dt.date.fromisoformat(conflict.file_value)
        statement = sql.SQL(_TAKE_FILE).format(field=sql.Identifier(conflict.field))
        await conn.execute(statement, {"value": value, "name": conflict.field, "client": conflict.client_id})
    await conn.execute(MARK_RESOLVED, {"choice": choice, "id": conflict_id})
    return msgspec.structs.replace(conflict, resolved=choice)
