"""A supplier's clients as CSV (spreadsheet-safe) or NDJSON, streamed in constant memory.

Rows are read in keyset pages of ``EXPORT_BATCH`` on the name index, each page in its own short supplier-scoped
transaction, and written out before the next page is read. We chose keyset pages over one server-side cursor or
``COPY … TO STDOUT`` held for the whole download: a phone on a venue's Wi-Fi may take minutes to drain a large
export, and a cursor would pin a pooled connection (and an open transaction) for all of that time, while pages
give the connection back between batches. The cost: the file is not one snapshot, so a client added or renamed
during the download may or may not be in it. Memory stays at one page whatever the list size (see the
``export_1m_peak_rss_mb`` bench).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator

import anyio
import msgspec
from litestar import get
from litestar.response import Stream
from psycopg_pool import AsyncConnectionPool

from core.couple import COUPLE_FIELDS
from core.db.pool import tenant
from webapp.auth import require_supplier
from webapp.csv_export import BOM, csv_row, safe_cell
from webapp.dependencies import SIGNED_IN
from webapp.queries import export as q
from webapp.reads.studio import studio_of
from webapp.state import Resources

# Spreadsheet headings in the order of ``ClientRecord``'s fields: the couple's from its declaration (core.couple).
_HEADINGS = {
    **{f.name: f.heading for f in COUPLE_FIELDS},
    "id": "Client ID", "source": "Source", "inquiry_date": "Inquiry date", "booking_date": "Booking date",
    "created_at": "Added", "updated_at": "Last changed",
}  # fmt: skip
CSV_HEADINGS = tuple(_HEADINGS[name] for name in q.ClientRecord.__struct_fields__)
assert len(CSV_HEADINGS) == len(q.ClientRecord.__struct_fields__)


async def client_pages(pool: AsyncConnectionPool, supplier_id: int) -> AsyncIterator[list[q.ExportRow]]:
    after_name, after_id = "", 0
    while True:
        async with tenant(pool, supplier_id) as conn:
            rows = await q.export_page(conn, supplier_id, after_name=after_name, after_id=after_id)
        if rows:
            yield rows
        if len(rows) < q.EXPORT_BATCH:
            return
        after_name, after_id = rows[-1].sort_name, rows[-1].id


def _cell(value: object) -> object:
    # Only text can start with a formula character; ids and empty cells are written by csv as they are.
    return safe_cell(value) if isinstance(value, str) else value


def _csv_page(rows: list[q.ExportRow]) -> bytes:
    buffer = io.StringIO()
    # One writer per page (csv_row's per-line StringIO would cost a second per million rows), dates turned into ISO
    # text by msgspec in C (csv's own str() of a datetime made the export 5x slower), and every text cell through
    # safe_cell, so a name like "=HYPERLINK(…)" arrives as text, not a formula.
    csv.writer(buffer).writerows(
        [_cell(v) for v in msgspec.to_builtins(msgspec.structs.astuple(row)[:-1])] for row in rows
    )
    return buffer.getvalue().encode()


async def csv_chunks(pool: AsyncConnectionPool, supplier_id: int) -> AsyncIterator[bytes]:
    yield (BOM + csv_row(CSV_HEADINGS)).encode()
    async for rows in client_pages(pool, supplier_id):
        # A page is ~10 ms of Python: in a thread, the event loop gets the interpreter back every few ms (the
        # switch interval), so the phones served by this process are not held up for a page at a time.
        yield await anyio.to_thread.run_sync(_csv_page, rows)


async def ndjson_chunks(pool: AsyncConnectionPool, supplier_id: int) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    async for rows in client_pages(pool, supplier_id):
        yield encoder.encode_lines([q.ClientRecord(*msgspec.structs.astuple(row)[:-1]) for row in rows])


def _download(chunks: AsyncIterator[bytes], media_type: str, extension: str, day: dt.date) -> Stream:
    filename = f"clients-{day.isoformat()}.{extension}"  # the studio's date
    return Stream(
        chunks,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
    )


@get(
    "/clients/export.csv",
    name="export_clients_csv",
    guards=[require_supplier],
    dependencies=SIGNED_IN,
)
async def export_csv(res: Resources, supplier_id: int) -> Stream:
    day = (await studio_of(res, supplier_id)).today()
    return _download(csv_chunks(res.pool, supplier_id), "text/csv; charset=utf-8", "csv", day)


@get(
    "/clients/export.ndjson",
    name="export_clients_ndjson",
    guards=[require_supplier],
    dependencies=SIGNED_IN,
)
async def export_ndjson(res: Resources, supplier_id: int) -> Stream:
    day = (await studio_of(res, supplier_id)).today()
    return _download(ndjson_chunks(res.pool, supplier_id), "application/x-ndjson", "ndjson", day)
