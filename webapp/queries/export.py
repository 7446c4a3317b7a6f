"""A supplier's whole client list for export (deleted clients left out), read in keyset pages (sort name, id) on
``clients_list_idx``."""

from __future__ import annotations

import datetime as dt

import msgspec
import psycopg
from psycopg.rows import class_row

EXPORT_BATCH = 2_000

# Keyset from ('', 0): every sort_name is >= '' and every id > 0, so one statement serves the first page too.
EXPORT_PAGE = """
SELECT id, partner1_first, partner1_last, partner1_email, partner1_phone,
       partner2_first, partner2_last, partner2_email, partner2_phone, wedding_date, venue, status,
       source, lead_source, inquiry_date, booking_date, created_at, updated_at, sort_name
FROM clients
WHERE supplier_id = %(sid)s AND deleted_at IS NULL AND (sort_name, id) > (%(after_name)s, %(after_id)s)
ORDER BY sort_name, id
LIMIT %(limit)s
"""


class ClientRecord(msgspec.Struct, frozen=True):
    """One exported client, as NDJSON writes it."""

    id: int
    partner1_first: str
    partner1_last: str
    partner1_email: str | None
    partner1_phone: str | None
    partner2_first: str
    partner2_last: str
    partner2_email: str | None
    partner2_phone: str | None
    wedding_date: dt.date | None
    venue: str | None
    status: str
    source: str
    lead_source: str | None
    inquiry_date: dt.date | None
    booking_date: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ExportRow(ClientRecord, frozen=True):
    """A record plus the keyset position it was read at (last, so ``astuple(row)[:-1]`` is the record)."""

    sort_name: str


async def export_page(
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    *,
    after_name: str = "",
    after_id: int = 0,
    limit: int = EXPORT_BATCH,
) -> list[ExportRow]:
    async with conn.cursor(row_factory=class_row(ExportRow)) as cur:
        await cur.execute(
            EXPORT_PAGE,
            {"sid": supplier_id, "after_name": after_name, "after_id": after_id, "limit": limit},
        )
        return await cur.fetchall()
