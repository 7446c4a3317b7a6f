"""Client notes."""

from __future__ import annotations

import psycopg
from psycopg.rows import class_row

from webapp.models import Note

LIST_NOTES = """
SELECT id, body, created_at FROM client_notes
WHERE supplier_id = %(sid)s AND client_id = %(client_id)s
ORDER BY created_at DESC, id DESC LIMIT %(limit)s
"""
INSERT_NOTE = """
INSERT INTO client_notes (supplier_id, client_id, body)
SELECT app_supplier_id(), c.id, %(body)s FROM clients c WHERE c.id = %(client_id)s
RETURNING id, body, created_at
"""


async def list_notes(conn: psycopg.AsyncConnection, supplier_id: int, client_id: int, limit: int = 100) -> list[Note]:
    async with conn.cursor(row_factory=class_row(Note)) as cur:
        await cur.execute(LIST_NOTES, {"sid": supplier_id, "client_id": client_id, "limit": limit})
        return await cur.fetchall()


async def add_note(conn: psycopg.AsyncConnection, client_id: int, body: str) -> Note | None:
    """The new note, or None when the client does not exist for this supplier."""
    async with conn.cursor(row_factory=class_row(Note)) as cur:
        await cur.execute(INSERT_NOTE, {"client_id": client_id, "body": body})
        return await cur.fetchone()
