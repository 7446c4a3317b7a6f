"""Cleaning rows in the process pool gives exactly what cleaning them in the job's thread gives."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import msgspec
import pytest

from core.importing import parallel
from core.importing.digest import KnownRows, RowDigester, cleaning_key
from core.importing.mapping import Mapping
from core.importing.normalise import NormaliseContext
from core.importing.pipeline import PreparedImport
from core.importing.records import ClientRecord, ImportFileError, RawRow, RowError, Unchanged

MAPPING = Mapping(columns={"ID": "external_id", "Name": "partner1_name", "Email": "partner1_email",
                           "Phone": "partner1_phone", "Date": "wedding_date"})  # fmt: skip
CTX = NormaliseContext(date_order="DMY", default_region="GB")


def rows(n: int) -> list[RawRow]:
    """Every 97th row has nobody in it (no name, an email and a phone no one could use), so row errors sit between
    records; every 89th has an email no one could send to, so records with warnings do too."""
    return [
        RawRow(line=i + 2, values={
            "ID": f"r{i}", "Name": "" if i % 97 == 5 else f"Alex Smith{i % 13}",
            "Phone": "n/a" if i % 97 == 5 else f"07911 {i % 1000000:06d}",
            "Email": "not an email" if i % 97 == 5 or i % 89 == 3 else f"alex{i}@example.com",
            "Date": f"{i % 28 + 1}/6/2027",
        })
        for i in range(n)
    ]  # fmt: skip


def in_thread(source: list[RawRow]) -> list[ClientRecord | RowError]:
    return list(PreparedImport(source, MAPPING, lookahead=0))


def test_pool_output_matches_the_thread_in_order_with_row_errors() -> None:
    pool = parallel.started_pool()
    assert pool is not None
    assert parallel.is_ready(pool)  # so the full chunks below really go to the pool
    source = rows(3 * parallel.CHUNK_ROWS + 250)  # full chunks for the pool, a short tail in the thread
    got = list(parallel.clean_rows(iter(source), MAPPING, CTX))
    assert got == in_thread(source)
    errors = [item for item in got if isinstance(item, RowError)]
    assert errors
    assert all("can't tell who this is" in e.reason for e in errors)
    warned = [item for item in got if isinstance(item, ClientRecord) and item.warnings]
    assert warned
    assert all(w.field == "partner1_email" for item in warned for w in item.warnings)
    assert parallel.shared_pool() is not None


def test_a_file_that_breaks_mid_way_yields_every_row_before_the_break() -> None:
    source = rows(parallel.CHUNK_ROWS + 400)

    def breaking() -> Iterator[RawRow]:
        yield from source
        raise ImportFileError("Line 1,402 is cut short.")

    got: list[ClientRecord | RowError] = []

    def read_all() -> None:
        for item in parallel.clean_rows(breaking(), MAPPING, CTX):
            got.append(item)

    with pytest.raises(ImportFileError, match="cut short"):
        read_all()
    assert got == in_thread(source)


def test_a_killed_pool_process_loses_no_rows() -> None:
    pool = parallel.started_pool()  # its processes exist
    assert pool is not None
    for pid in list(pool._processes):  # private, but the only handle on the pool's processes
        os.kill(pid, signal.SIGKILL)
    source = rows(2 * parallel.CHUNK_ROWS)
    assert list(parallel.clean_rows(iter(source), MAPPING, CTX)) == in_thread(source)
    fresh = parallel.shared_pool()  # the broken pool was dropped; the next import gets a new one
    assert fresh is not None
    assert fresh is not pool
    assert fresh.submit(abs, -3).result() == 3


def test_rows_are_cleaned_in_the_thread_while_the_pool_starts() -> None:
    # A cold pool takes ~0.5 s to start; the first chunks do not wait for it, and nothing changes.
    parallel._discard(parallel.started_pool())  # type: ignore[arg-type]
    source = rows(4 * parallel.CHUNK_ROWS)
    got = list(parallel.clean_rows(iter(source), MAPPING, CTX))
    assert got == in_thread(source)
    pool = parallel.started_pool()
    assert pool is not None
    assert pool.submit(abs, -3).result() == 3


def test_pool_off_cleans_in_the_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPORT_PROCESSES", "0")
    assert parallel.shared_pool() is None
    source = rows(parallel.CHUNK_ROWS + 10)
    assert list(parallel.clean_rows(iter(source), MAPPING, CTX)) == in_thread(source)


def test_known_rows_come_out_unchanged_in_place_and_the_rest_with_their_digests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows with a stored digest are not cleaned (Unchanged, in their place); the others, cleaned in the pool or in
    the thread alike, carry the digest that makes them known to the next import."""
    source = rows(3 * parallel.CHUNK_ROWS + 250)
    key = cleaning_key(MAPPING, CTX)
    digester = RowDigester(key)
    # Every row of the first chunk and every third row after it were imported before.
    stored = {digester(row.values): row.values["ID"] for i, row in enumerate(source) if i < 1000 or i % 3 == 0}
    expected = [
        Unchanged(row.line, row.values["ID"]) if digester(row.values) in stored
        else msgspec.structs.replace(item, import_digest=digester(row.values)) if isinstance(item, ClientRecord)
        else item
        for row, item in zip(source, in_thread(source), strict=True)
    ]  # fmt: skip
    pool = parallel.started_pool()
    assert pool is not None
    assert parallel.is_ready(pool)
    assert list(parallel.clean_rows(iter(source), MAPPING, CTX, KnownRows(key, stored))) == expected
    monkeypatch.setenv("IMPORT_PROCESSES", "0")
    assert list(parallel.clean_rows(iter(source), MAPPING, CTX, KnownRows(key, stored))) == expected
