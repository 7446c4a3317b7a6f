"""A file's Notes column becomes a note on each client the import creates (``client_notes``, as if typed in the app).

Only on creation: a re-import of the same file, or a later export from the CRM, must not pile up copies of the
same note on a client the photographer has been working with since. Written in the batch's own transaction, so
a batch and its notes commit together or not at all.
"""

from __future__ import annotations

import psycopg

from core.importing.records import ClientRecord

# client_notes.body is at most 5,000 characters (a CHECK); a longer Notes cell keeps its start.
MAX_NOTE_CHARS = 5_000

# Clients this transaction created have created_at = now() (the transaction's start): updated ones were created
# by an earlier one.
INSERT_IMPORT_NOTES = """
INSERT INTO client_notes (supplier_id, client_id, body)
SELECT %(sid)s, c.id, left(n.body, %(max_chars)s)
FROM unnest(%(ids)s::text[], %(bodies)s::text[]) AS n (external_id, body)
JOIN clients c ON c.supplier_id = %(sid)s AND c.source = %(source)s AND c.external_id = n.external_id
WHERE c.created_at = now()
"""


def add_import_notes(conn: psycopg.Connection, supplier_id: int, source: str, records: list[ClientRecord]) -> int:
    """Notes for the clients of ``records`` that were created in this transaction; returns how many were added."""
    notes: dict[str, str | None] = {}
    for record in records:  # a client repeated in the batch keeps its last row, notes included
        notes[record.external_id] = record.notes
    wanted = {external_id: body for external_id, body in notes.items() if body}
    if not wanted:
        return 0
    cur = conn.execute(
        INSERT_IMPORT_NOTES,
        {
            "sid": supplier_id,
            "source": source,
            "ids": list(wanted),
            "bodies": list(wanted.values()),
            "max_chars": MAX_NOTE_CHARS,
        },
    )
    return cur.rowcount
