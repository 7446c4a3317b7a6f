"""The two upsert statements (first import; source imported before) write the same rows and count the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import psycopg

from jobs.importing.records import ClientRecord
from jobs.upsert import BatchCounts, source_has_clients, upsert_batch
from tests.fixtures import Services, bare_supplier
from webapp.db.pool import tenant_sync
from webapp.importing_service import open_pool


def _record(n: int, **changes: Any) -> ClientRecord:
    base = ClientRecord(
        external_id=f"x{n}", partner1_first=f"Ada{n}", partner1_last="Lovelace", partner1_email=f"ada{n}@example.com",
        partner1_phone=None, partner2_first="", partner2_last="", partner2_email=None, partner2_phone=None,
        wedding_date=dt.date(2027, 6, 1 + n % 28), venue=None, status="lead", lead_source=None, inquiry_date=None,
        booking_date=None,
    )  # fmt: skip
    return msgspec.structs.replace(base, **changes)


STORED = [_record(n) for n in range(6)]
# Unchanged (0, 1), a NULL that becomes a value (2), a value that becomes NULL (3), a new client (9), and a
# client twice in the batch whose last row wins and equals what is stored (4) or not (5).
BATCH = [
    _record(0),
    _record(1),
    _record(2, venue="Kew Gardens"),
    _record(3, partner1_email=None),
    _record(9),
    _record(4, status="booked"),
    _record(4),
    _record(5),
    _record(5, wedding_date=None),
]
COLUMNS = "external_id, " + ", ".join(f for f in ClientRecord.__struct_fields__ if f != "external_id") + ", version"


def _run(services: Services, skip_unchanged: bool) -> tuple[BatchCounts, list[tuple[Any, ...]], bool]:
    sid = bare_supplier(services.database_url)
    with open_pool(services.database_url, max_size=1) as pool:
        with tenant_sync(pool, sid) as conn:
            assert not source_has_clients(conn, sid, "csv")
            upsert_batch(conn, sid, "csv", STORED)
        with tenant_sync(pool, sid) as conn:
            before = source_has_clients(conn, sid, "csv")
            counts = upsert_batch(conn, sid, "csv", BATCH, skip_unchanged=skip_unchanged)
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM clients WHERE supplier_id = %s ORDER BY external_id", [sid])
        return counts, rows.fetchall(), before


def test_skipping_unchanged_rows_first_changes_nothing_but_the_work(services: Services) -> None:
    plain, plain_rows, _ = _run(services, skip_unchanged=False)
    skipping, skipping_rows, imported_before = _run(services, skip_unchanged=True)
    assert imported_before
    assert plain == skipping == BatchCounts(created=1, updated=3, unchanged=5)
    assert plain_rows == skipping_rows
    versions = {row[0]: row[-1] for row in skipping_rows}
    assert versions == {"x0": 1, "x1": 1, "x2": 2, "x3": 2, "x4": 1, "x5": 2, "x9": 1}
