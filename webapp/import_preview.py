"""The dry-run preview of an uploaded file: the first rows as they will be saved, the column mapping,
and counts of new / updated / possible duplicate / invalid rows in the first rows of the file."""

from __future__ import annotations

import hashlib
import io
import itertools

import msgspec
import psycopg

from core import sources
from core.importing.mapping import Mapping
from core.importing.pipeline import PreparedImport
from core.importing.readers import open_table
from core.importing.records import ClientRecord, ImportFileError, RawRow, RowError
from core.importing.vcard import VCARD_KEYS, read_vcards

SAMPLE_ROWS = 1_000
SHOWN_ROWS = 20

# A key a merge gave to another client (client_source_aliases, migrations/0025) is there too: the import updates that
# client.
EXISTING_IDS = """
SELECT external_id FROM clients WHERE supplier_id = %(sid)s AND source = %(source)s AND external_id = ANY(%(ids)s)
UNION
SELECT external_id FROM client_source_aliases
WHERE supplier_id = %(sid)s AND source = %(source)s AND external_id = ANY(%(ids)s)
"""
# The rows (by their place in the sample) that may already be here from another source: the rule an import
# applies when it writes them (duplicate_reason, migrations/0024), candidates found through the same indexes.
POSSIBLE_DUPLICATES = """
SELECT DISTINCT r.ord
FROM unnest(%(keys)s::text[], %(emails)s::text[], %(firsts)s::text[], %(lasts)s::text[], %(dates)s::date[])
    WITH ORDINALITY AS r(external_id, email, first_name, last_name, wedding, ord)
JOIN clients o ON o.supplier_id = %(sid)s AND o.source <> %(source)s
     AND (o.partner1_email = r.email OR o.wedding_date = r.wedding)
WHERE duplicate_reason(o, r.email, r.first_name, r.last_name, r.wedding) IS NOT NULL
  AND NOT EXISTS (  -- the client a merged-away key leads to is the one the row updates, not a duplicate of it
      SELECT FROM client_source_aliases a
      WHERE a.supplier_id = %(sid)s AND a.source = %(source)s AND a.external_id = r.external_id
        AND a.target_source = o.source AND a.target_external_id = o.external_id)
"""


class FileHead(msgspec.Struct):
    format: str  # "table" or "vcard"
    headers: list[str]
    rows: list[RawRow]
    complete: bool  # the sample is the whole file
    encoding: str | None = None
    delimiter: str | None = None
    notice: str | None = None  # what was fixed in the file as it was read (NUL characters removed)


class Preview(msgspec.Struct):
    head: FileHead
    mapping: Mapping
    shown: list[ClientRecord | RowError]
    sample_size: int
    new: int
    updated: int
    duplicates: int
    invalid: int
    date_note: str | None
    warned: int = 0  # rows that will be imported with a field left out or shortened
    phone_note: str | None = None
    phone_region: str = "GB"  # the country numbers without a country code are read in


def file_format(filename: str, preset: str) -> str:
    return sources.file_format(filename, preset)


def read_head(head: bytes, more: bool, fmt: str) -> FileHead:
    """Parse the start of an upload. A row cut in half by the sample's end is dropped, not shown as an error."""
    stream = io.BytesIO(head)
    if fmt == "vcard":
        rows = list(itertools.islice(read_vcards(stream), SAMPLE_ROWS + 1))
        if more and rows:
            rows = rows[:-1]
        return FileHead("vcard", list(VCARD_KEYS), rows[:SAMPLE_ROWS], complete=not more and len(rows) <= SAMPLE_ROWS)
    reader = open_table(stream)
    try:
        rows = list(itertools.islice(reader, SAMPLE_ROWS + 1))
    except ImportFileError:
        if not more:
            raise
        rows = []  # the cut-off point fell inside a quoted cell; the full import reads it properly
    if more and rows:
        rows = rows[:-1]
    return FileHead(
        "table",
        list(reader.headers),
        rows[:SAMPLE_ROWS],
        complete=not more and len(rows) <= SAMPLE_ROWS,
        encoding=reader.encoding,
        delimiter=reader.delimiter,
        notice=reader.nul_notice(),
    )


def header_signature(headers: list[str]) -> str:
    """Identifies "the same kind of file" so a confirmed mapping is offered again next time."""
    return hashlib.sha256("\x1f".join(sorted(h.strip().lower() for h in headers)).encode()).hexdigest()[:16]


async def build_preview(
    conn: psycopg.AsyncConnection, supplier_id: int, source: str, head: FileHead, mapping: Mapping
) -> Preview:
    prepared = PreparedImport(head.rows, mapping)
    items = list(prepared)
    records = [i for i in items if isinstance(i, ClientRecord)]
    ids = list({r.external_id for r in records})
    cur = await conn.execute(EXISTING_IDS, {"sid": supplier_id, "source": source, "ids": ids})
    existing = {row[0] for row in await cur.fetchall()}
    cur = await conn.execute(POSSIBLE_DUPLICATES, {
        "sid": supplier_id, "source": source, "keys": [r.external_id for r in records],
        "emails": [r.partner1_email for r in records],
        "firsts": [r.partner1_first for r in records], "lasts": [r.partner1_last for r in records],
        "dates": [r.wedding_date for r in records],
    })  # fmt: skip
    duplicates = len(await cur.fetchall())
    decision = prepared.date_order
    order_words = {"DMY": "day/month/year", "MDY": "month/day/year", "YMD": "year-month-day"}
    date_note = decision.message or (
        f"Dates are read as {order_words.get(decision.order, decision.order)}."
        if any(t in mapping.columns.values() for t in ("wedding_date", "inquiry_date", "booking_date"))
        else None
    )
    return Preview(
        head=head,
        mapping=mapping,
        shown=items[:SHOWN_ROWS],
        sample_size=len(items),
        new=len(set(ids) - existing),
        updated=len(existing),
        duplicates=duplicates,
        invalid=len(items) - len(records),
        date_note=date_note,
        warned=sum(1 for r in records if r.warnings),
        phone_note=prepared.phone_region.message,
        phone_region=prepared.phone_region.region,
    )
