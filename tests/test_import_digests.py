"""Re-imports count the rows they imported before, unchanged, without cleaning them again (jobs/importing/digest.py).

Files are imported through the runner a worker uses (``run_inline``), against the real PostgreSQL; a counter around
``build_record`` tells which rows were cleaned.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.db.pool import tenant_sync
from core.import_service import JobSummary, create_file_job, job_summary, open_pool
from core.importing import digest, parallel
from jobs.inline import run_inline
from tests.fixtures import Services, bare_supplier
from webapp.queries.clients import UPDATE_STATUS

HEADER = ["Client ID", "First Name", "Last Name", "Email", "Venue", "Status"]
ROWS = [[f"c{n}", f"Ada{n}", "Lovelace", f"ada{n}@example.com", f"Venue {n}", "Enquiry"] for n in range(40)]
NOBODY = ["c-none", "", "", "", "Somewhere", "Enquiry"]  # no name or email: a row error every time


class Studio:
    def __init__(self, services: Services, tmp_path: Path, cleaned: list[int]) -> None:
        self.database_url, self.tmp_path, self.cleaned = services.database_url, tmp_path, cleaned
        self.sid = bare_supplier(services.database_url)
        self.files = 0

    def run(self, rows: list[list[str]]) -> tuple[JobSummary, int]:
        """Import ``rows`` as a new file; the job's counts and how many rows were cleaned."""
        self.files += 1
        path = self.tmp_path / f"clients-{self.files}.csv"
        with path.open("w", newline="") as out:
            csv.writer(out).writerows([HEADER, *rows])
        before = len(self.cleaned)
        with open_pool(self.database_url, max_size=2) as pool:
            job = create_file_job(pool, self.sid, "GB", path)
            run_inline(pool, self.sid, job)
            return job_summary(pool, self.sid, job), len(self.cleaned) - before

    def clients(self) -> dict[str, tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            rows = conn.execute(
                "SELECT external_id, venue, status, version, updated_at, import_digest FROM clients"
                " WHERE supplier_id = %s",
                [self.sid],
            )
            return {row[0]: row[1:] for row in rows}


@pytest.fixture
def studio(services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Studio:
    monkeypatch.setenv("IMPORT_PROCESSES", "0")  # every row cleaned in this process, where it can be counted
    cleaned: list[int] = []
    build = parallel.build_record

    def counted(fields: dict[str, str], line: int, *args: Any) -> Any:
        cleaned.append(line)
        return build(fields, line, *args)

    monkeypatch.setattr(parallel, "build_record", counted)
    return Studio(services, tmp_path, cleaned)


def _counts(summary: JobSummary) -> tuple[int, int, int, int]:
    return summary.created, summary.updated, summary.unchanged, summary.failed


def test_an_unchanged_file_imported_again_cleans_only_its_bad_row(studio: Studio) -> None:
    first, cleaned = studio.run([*ROWS, NOBODY])
    assert _counts(first) == (40, 0, 0, 1)
    assert cleaned == 41
    stored = studio.clients()
    assert all(len(row[-1]) == digest.DIGEST_BYTES for row in stored.values())

    again, cleaned = studio.run([*ROWS, NOBODY])
    assert _counts(again) == (0, 0, 40, 1)  # the bad row is still reported, with its line
    assert again.status == "partially_succeeded"
    assert cleaned == 1
    assert studio.clients() == stored  # not one version, timestamp or digest moved


def test_only_changed_and_new_rows_are_cleaned_and_written(studio: Studio) -> None:
    studio.run(ROWS)
    changed = [list(row) for row in ROWS]
    changed[7][4] = "Kew Gardens"
    summary, cleaned = studio.run([*changed, ["c-new", "Grace", "Hopper", "grace@example.com", "", "Booked"]])
    assert _counts(summary) == (1, 1, 39, 0)
    assert cleaned == 2
    clients = studio.clients()
    assert clients["c7"][:3] == ("Kew Gardens", "lead", 2)
    assert clients["c8"][2] == 1


def test_the_last_row_of_a_client_in_a_file_wins_over_a_stored_one(studio: Studio) -> None:
    """c3 changed, then c3 again exactly as stored: the second row is cleaned (this job wrote c3) and wins."""
    studio.run(ROWS)
    moved = [*ROWS[:3], ["c3", "Ada3", "Lovelace", "ada3@example.com", "Kew Gardens", "Enquiry"], *ROWS[3:]]
    summary, _ = studio.run(moved)
    assert summary.failed == 0
    assert studio.clients()["c3"][:3] == ("Venue 3", "lead", 1)


def _set_status(studio: Studio, external_id: str, status: str) -> None:
    with open_pool(studio.database_url, max_size=1) as pool, tenant_sync(pool, studio.sid) as conn:
        row = conn.execute("SELECT id, version FROM clients WHERE external_id = %s", [external_id]).fetchone()
        assert row is not None
        conn.execute(UPDATE_STATUS, {"status": status, "id": row[0], "version": row[1]})


def _conflicts(studio: Studio) -> list[tuple[Any, ...]]:
    with psycopg.connect(studio.database_url) as conn:
        return conn.execute(
            "SELECT c.external_id, x.field, x.app_value, x.file_value FROM sync_job_conflicts x "
            "JOIN clients c ON c.id = x.client_id WHERE x.supplier_id = %s ORDER BY x.id",
            [studio.sid],
        ).fetchall()


def test_a_status_changed_in_the_app_survives_a_reimport_of_the_same_file(studio: Studio) -> None:
    studio.run(ROWS)
    _set_status(studio, "c5", "booked")
    assert studio.clients()["c5"][1:3] == ("booked", 2)

    summary, cleaned = studio.run(ROWS)
    assert _counts(summary) == (0, 0, 40, 0)
    assert cleaned == 0  # the file's row for c5 did not change: nothing to clean, nothing written
    assert studio.clients()["c5"][1:3] == ("booked", 2)
    assert _conflicts(studio) == []


def test_a_reimport_merges_three_ways_and_lists_real_conflicts(studio: Studio) -> None:
    """c5: the app changed the status, the file the venue: both kept. c6: the app and the file both changed the
    status, differently: the app's is kept and the conflict listed with both values, once."""
    studio.run(ROWS)
    _set_status(studio, "c5", "booked")
    _set_status(studio, "c6", "booked")
    changed = [list(row) for row in ROWS]
    changed[5][4] = "The New Barn"
    changed[6][5] = "Cancelled"

    _, cleaned = studio.run(changed)
    assert cleaned == 2
    clients = studio.clients()
    assert clients["c5"][:2] == ("The New Barn", "booked")
    assert clients["c6"][:2] == ("Venue 6", "booked")
    assert _conflicts(studio) == [("c6", "status", "booked", "archived")]

    studio.run(changed)  # the same file again: its values are the new base, nothing more to say
    assert _conflicts(studio) == [("c6", "status", "booked", "archived")]
    assert studio.clients()["c6"][:2] == ("Venue 6", "booked")


def test_new_cleaning_code_cleans_every_row_once_without_new_versions(
    studio: Studio, monkeypatch: pytest.MonkeyPatch
) -> None:
    studio.run(ROWS)
    before = studio.clients()
    monkeypatch.setattr(digest, "_cleaning_code", lambda: b"the next release")

    summary, cleaned = studio.run(ROWS)
    assert _counts(summary) == (0, 0, 40, 0)
    assert cleaned == 40
    after = studio.clients()
    assert {k: v[:4] for k, v in after.items()} == {k: v[:4] for k, v in before.items()}  # values, versions, times
    assert all(after[k][-1] != before[k][-1] for k in before)  # only the digests moved

    summary, cleaned = studio.run(ROWS)
    assert _counts(summary) == (0, 0, 40, 0)
    assert cleaned == 0
