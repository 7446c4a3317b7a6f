"""Client notes."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from webapp.models import Note

NOTES_PAGE = 50
LIST_NOTES = """
SELECT id, body, created_at FROM client_notes
WHERE supplier_id = %(sid)s AND client_id = %(client_id)s
ORDER BY created_at DESC, id DESC LIMIT %(limit)s
"""
# Keyset: older than the last note shown (its id is the cursor; RLS and the client check keep it in the tenant).
LIST_NOTES_BEFORE = """
SELECT id, body, created_at FROM client_notes
WHERE supplier_id = %(sid)s AND client_id = %(client_id)s
  AND (created_at, id) < (SELECT n.created_at, n.id FROM client_notes n
                          WHERE n.id = %(before)s AND n.client_id = %(client_id)s)
ORDER BY created_at DESC, id DESC LIMIT %(limit)s
"""
INSERT_NOTE = """
INSERT INTO client_notes (supplier_id, client_id, body)
SELECT app_supplier_id(), c.id, %(body)s FROM clients c WHERE c.id = %(client_id)s AND c.deleted_at IS NULL
RETURNING id, body, created_at
"""

DELETE_NOTE = """
DELETE FROM client_notes n USING clients c
WHERE n.id = %(note_id)s AND n.client_id = %(client_id)s AND c.id = n.client_id AND c.deleted_at IS NULL
RETURNING n.id
"""


async def list_notes(
    conn: psycopg.AsyncConnection, supplier_id: int, client_id: int, *, before: int | None = None
) -> list[Note]:
    """The newest page of notes (or the page older than note ``before``), plus one more when more exist: the
    template shows ``NOTES_PAGE`` and offers "Show older notes" when it got the extra one."""
    params = {"sid": supplier_id, "client_id": client_id, "limit": NOTES_PAGE + 1, "before": before}
    async with conn.cursor(row_factory=class_row(Note)) as cur:
        await cur.execute(LIST_NOTES if before is None else LIST_NOTES_BEFORE, params)
        return await cur.fetchall()


async def add_note(conn: psycopg.AsyncConnection, client_id: int, body: str) -> Note | None:
    """The new note, or None when the client does not exist for this supplier."""
    async with conn.cursor(row_factory=class_row(Note)) as cur:
        await cur.execute(INSERT_NOTE, {"client_id": client_id, "body": body})
        return await cur.fetchone()


async def delete_note(conn: psycopg.AsyncConnection, client_id: int, note_id: int) -> bool:
    """Whether the note was there (on that client, for this supplier) to delete."""
    cur = await conn.execute(DELETE_NOTE, {"client_id": client_id, "note_id": note_id})
    return await cur.fetchone() is not None
