"""How an import writes its batches: plain inserts for a source new to the studio, upserts of what changed after."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import psycopg

from core.db.pool import tenant_sync
from core.import_service import open_pool
from core.importing.records import ClientRecord
from core.job_lifecycle import BatchCounts
from jobs.upsert import SourceWriter, repeated_rows
from tests.fixtures import Services, bare_supplier


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
# client twice in the batch whose last row wins and equals what is stored (4) or not (5). A repeated row that changes
# what the row before it said is an update (both rows of 4, the second of 5), so every row is counted once.
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
COLUMNS = (
    "external_id, "
    + ", ".join(f for f in ClientRecord.__struct_fields__ if f not in ("external_id", "warnings", "line", "notes"))
    + ", version"
)  # notes become client_notes rows (jobs/import_notes.py), not a column


def _rows(services: Services, sid: int) -> list[tuple[Any, ...]]:
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(f"SELECT {COLUMNS} FROM clients WHERE supplier_id = %s ORDER BY external_id", [sid])
        return rows.fetchall()


def _run(services: Services, *, same_writer: bool) -> tuple[BatchCounts, BatchCounts, list[tuple[Any, ...]]]:
    """STORED as a studio's first import from the source, then BATCH: by a writer chosen for a new job (which
    knows the source is there), or by the first import's own writer (which finds out from the conflict)."""
    sid = bare_supplier(services.database_url)
    with open_pool(services.database_url, max_size=1) as pool:
        with tenant_sync(pool, sid) as conn:
            first = SourceWriter.for_job(conn, sid, "csv", None)
            assert first.new_source
            stored = first.write(conn, STORED)
        with tenant_sync(pool, sid) as conn:
            writer = first if same_writer else SourceWriter.for_job(conn, sid, "csv", None)
            assert writer.new_source is same_writer
            counts = writer.write(conn, BATCH)
            assert not writer.new_source  # from now on every batch of this job is an upsert
    return stored, counts, _rows(services, sid)


def test_a_batch_over_stored_clients_writes_only_what_changed(services: Services) -> None:
    stored, counts, rows = _run(services, same_writer=False)
    assert stored == BatchCounts(created=6)
    assert counts == BatchCounts(created=1, updated=5, unchanged=3)
    versions = {row[0]: row[-1] for row in rows}
    assert versions == {"x0": 1, "x1": 1, "x2": 2, "x3": 2, "x4": 1, "x5": 2, "x9": 1}
    assert rows[2][10] == "Kew Gardens"  # a changed value reached its row


def test_a_new_source_that_meets_a_stored_client_is_upserted_instead(services: Services) -> None:
    """A plain INSERT that finds a key stored (a file that repeats a client, another job of the same source) is
    undone to its savepoint and the batch upserted: the result is the same as if the writer had known."""
    _, known, known_rows = _run(services, same_writer=False)
    _, found_out, found_out_rows = _run(services, same_writer=True)
    assert found_out == known
    assert found_out_rows == known_rows


def test_a_first_import_folds_repeated_clients_in_a_batch(services: Services) -> None:
    sid = bare_supplier(services.database_url)
    with open_pool(services.database_url, max_size=1) as pool, tenant_sync(pool, sid) as conn:
        writer = SourceWriter.for_job(conn, sid, "csv", None)
        counts = writer.write(conn, [_record(1), _record(2, status="booked"), _record(2), _record(3)])
        assert writer.new_source
    assert counts == BatchCounts(created=3, updated=1)
    assert [(row[0], row[11]) for row in _rows(services, sid)] == [("x1", "lead"), ("x2", "lead"), ("x3", "lead")]


def test_repeated_rows_count_as_updated_only_when_they_change_the_row_before() -> None:
    sid_rows = [_record(1), _record(1), _record(2), _record(2, venue="Kew"), _record(2, venue="Kew"), _record(3)]
    # 1 repeated as it was; 2 changed once, then repeated as changed
    assert repeated_rows(sid_rows) == (3, 1)


def test_a_file_repeating_ids_counts_every_row_once(services: Services) -> None:
    sid = bare_supplier(services.database_url)
    batch = [_record(1), _record(1, venue="Kew"), _record(2), _record(2), _record(3), _record(1, venue="Kew")]
    with open_pool(services.database_url, max_size=1) as pool, tenant_sync(pool, sid) as conn:
        counts = SourceWriter.for_job(conn, sid, "csv", None).write(conn, batch)
    assert counts == BatchCounts(created=3, updated=1, unchanged=2)
    assert counts.created + counts.updated + counts.unchanged == len(batch)
