"""Hostile files through the real worker: each ends with a message a photographer can act on, and every
good row is kept. The files are generated here (small), except the row cap, which the worker reads from
``IMPORT_MAX_ROWS`` so a 350-row file stands in for a 500,001-row one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import Services
from tests.test_import_support import ImportEnv, couples_csv, import_env_fixture, write_csv

ROW_CAP = 300
HEADER = ["ID", "First Name", "Last Name", "Email", "Wedding Date", "Venue"]


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[ImportEnv]:
    for env in import_env_fixture(tmp_path_factory, services, IMPORT_MAX_ROWS=str(ROW_CAP)):
        env.start_worker()
        yield env


def _good(i: int) -> list[str]:
    return [f"g{i}", f"Ava{i}", "Brown", f"ava{i}@example.com", "2027-05-01", "The Barn"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "This file looks empty."),
        ("blank.csv", b"\r\n\r\n   \r\n", "This file looks empty."),
        ("header-only.csv", b"ID,First Name,Last Name,Email\r\n", "only has a header row and no clients"),
        ("junk.csv", bytes(range(256)) * 200, "doesn't look like a spreadsheet (it contains binary data)"),
        ("photo.csv", b"\x89PNG\r\n\x1a\n" + b"\x00\x01\x02IHDR" * 500, "doesn't look like a spreadsheet"),
    ],
)
def test_unreadable_files_fail_with_a_plain_message(
    imports: ImportEnv, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    sid, _ = imports.supplier()
    path = tmp_path / name
    path.write_bytes(content)
    summary = imports.import_file(sid, path)
    assert summary.status == "failed"
    assert message in (summary.message or "")
    assert (summary.created, summary.processed) == (0, 0)
    assert imports.clients(sid) == []
    assert imports.rows(sid, "SELECT count(*) FROM import_upload_chunks WHERE job_id = %s", [summary.job_id]) == [(0,)]


def test_mixed_encodings_in_one_file(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    # UTF-8 rows, then a row pasted in from an old Windows export (cp1252 bytes for ü and é).
    content = (
        "ID,First Name,Last Name,Email,Wedding Date,Venue\r\n"
        "m1,Zoë,Ångström,zoe@example.com,2027-05-01,Château\r\n"
        "m2,Siobhán,Ó Briain,siobhan@example.com,2027-06-01,Dún Laoghaire\r\n"
    ).encode() + "m3,Jürgen,Müller,jurgen@example.com,2027-07-01,Café Zürich\r\n".encode("cp1252")
    path = tmp_path / "mixed.csv"
    path.write_bytes(content)
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 3, 0)
    names = {r["external_id"]: (r["partner1_first"], r["partner1_last"], r["venue"]) for r in imports.clients(sid)}
    assert names == {
        "m1": ("Zoë", "Ångström", "Château"),
        "m2": ("Siobhán", "Ó Briain", "Dún Laoghaire"),
        "m3": ("Jürgen", "Müller", "Café Zürich"),
    }


def test_a_huge_cell_loses_its_field_and_a_huge_name_its_row(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    rows = [_good(1), ["g2", "Mia", "Long", "mia@example.com", "2027-05-01", "x" * 12_000], _good(3)]
    rows.append(["g4", "N" * 300, "Name", "n@example.com", "2027-05-01", ""])  # a name no one has
    summary = imports.import_file(sid, write_csv(tmp_path / "huge.csv", HEADER, rows))
    assert (summary.status, summary.created, summary.failed, summary.processed) == ("partially_succeeded", 3, 1, 4)
    clients = {r["external_id"]: r for r in imports.clients(sid)}
    assert set(clients) == {"g1", "g2", "g3"}
    assert (clients["g2"]["partner1_first"], clients["g2"]["venue"]) == ("Mia", None)
    errors = imports.errors(sid, summary.job_id)
    assert [line for line, _, _ in errors] == [3, 5]
    assert all(reason for _, _, reason in errors)
    assert "12,000 characters" in errors[0][2]
    assert "too long" in errors[1][2]
    assert summary.message == (
        "Done: 3 new, 0 updated, 0 unchanged, 1 imported with something left out, 1 row needs fixing."
    )


def test_quotes_and_newlines_inside_cells(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    rows = [
        ["q1", 'Robin "Bobby"', "O'Hara", "robin@example.com", "2027-05-01", "The Old Mill,\nMill Lane,\r\nBath"],
        ["q2", "Kim", "Lee, Jr.", "kim@example.com", "2027-05-02", 'Say "yes" Barn'],
        ["q3", "Jo", "March", "not-an-email", "2027-05-03", ""],
    ]
    summary = imports.import_file(sid, write_csv(tmp_path / "quotes.csv", HEADER, rows))
    assert (summary.created, summary.failed) == (3, 0)  # q3 is kept without the email no one could send to
    got = {r["external_id"]: r for r in imports.clients(sid)}
    assert (got["q3"]["partner1_first"], got["q3"]["partner1_email"]) == ("Jo", None)
    assert got["q1"]["partner1_first"] == 'Robin "Bobby"'
    assert got["q1"]["venue"] is not None
    assert "Mill Lane" in got["q1"]["venue"]
    assert "Bath" in got["q1"]["venue"]
    assert (got["q2"]["partner1_last"], got["q2"]["venue"]) == ("Lee, Jr.", 'Say "yes" Barn')
    # The bad row is reported at the line the photographer sees in a text editor: the header is line 1,
    # q1 spans lines 2-4, q2 is line 5, q3 is line 6.
    [(line, field, _)] = imports.errors(sid, summary.job_id)
    assert (line, field) == (6, "partner1_email")


def test_a_broken_line_keeps_the_rows_before_it(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = write_csv(tmp_path / "broken.csv", HEADER, [_good(i) for i in range(5)])
    with path.open("ab") as out:
        out.write(b"bad," + b"z" * 1_100_000 + b"\r\n")
        out.write(b"g9,After,Break,after@example.com,2027-01-01,\r\n")
    summary = imports.import_file(sid, path)
    assert summary.status == "partially_succeeded", summary.message
    assert "Line 7 is over a million characters long" in (summary.message or "")
    assert "We kept the 5 rows before it." in (summary.message or "")
    assert summary.created == 5
    assert {r["external_id"] for r in imports.clients(sid)} == {f"g{i}" for i in range(5)}


def test_file_over_the_row_cap_keeps_the_first_rows(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    summary = imports.import_file(sid, couples_csv(tmp_path / "big.csv", ROW_CAP + 50))
    assert summary.status == "partially_succeeded"
    assert summary.message == (
        f"This file has more than {ROW_CAP:,} rows. We imported the first {ROW_CAP:,}; "
        "split the rest into another file."
    )
    assert (summary.created, summary.processed) == (ROW_CAP, ROW_CAP)
    ids = {r["external_id"] for r in imports.clients(sid)}
    assert ids == {f"c{i}" for i in range(ROW_CAP)}


def test_vcard_junk_and_good_cards(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = tmp_path / "phone.vcf"
    path.write_bytes(
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ok-1\r\nFN:Isla Wilson\r\nEMAIL:isla@example.com\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:nobody\r\nORG:Just A Company\r\nEND:VCARD\r\n"
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ok-2\r\nFN:Finn Hughes\r\nNOTE:" + b"n" * 20_000 + b"\r\nEND:VCARD\r\n"
    )
    summary = imports.import_file(sid, path)
    assert summary.status in ("succeeded", "partially_succeeded")
    assert {r["external_id"] for r in imports.clients(sid)} >= {"ok-1", "ok-2"}
    assert summary.created + summary.failed == 3
