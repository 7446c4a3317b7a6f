"""File imports end to end: job row + uploaded chunks → message (ids only) → a real Dramatiq worker →
PostgreSQL. Each source's rows are checked field by field, and so are re-imports and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import ROOT, Services
from tests.test_import_support import ImportEnv, couples_csv, import_env_fixture, write_csv


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[ImportEnv]:
    for env in import_env_fixture(tmp_path_factory, services):
        env.start_worker()
        yield env


def test_generic_csv_rows_land_exactly(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = write_csv(
        tmp_path / "clients.csv",
        ["Client ID", "First Name", "Last Name", "Email", "Mobile", "Partner Name", "Wedding Date", "Venue", "Status"],
        [
            ["A-1", "Olivia", "Smith", "Olivia.Smith@Example.com", "020 7946 0123", "Noah Jones", "14/06/2027",
             "Elmore Court", "Booked"],
            ["A-2", "Priya", "Patel", "priya@example.com", "", "", "03/09/2026", "", "enquiry"],
            ["A-3", "Liam", "O'Neill", "liam@example.com", "+353 87 123 4567", "Aoife Byrne", "25/12/2026", "", ""],
        ],
    )  # fmt: skip
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created, summary.updated, summary.unchanged, summary.failed) == (
        "succeeded", 3, 0, 0, 0,
    )  # fmt: skip
    assert summary.processed == 3
    assert summary.errors == 0
    rows = {r["external_id"]: r for r in imports.clients(sid)}
    assert set(rows) == {"A-1", "A-2", "A-3"}
    a1 = rows["A-1"]
    assert (a1["partner1_first"], a1["partner1_last"], a1["partner1_email"]) == (
        "Olivia", "Smith", "olivia.smith@example.com",
    )  # fmt: skip
    assert a1["partner1_phone"] == "+442079460123"
    assert (a1["partner2_first"], a1["partner2_last"]) == ("Noah", "Jones")
    assert a1["wedding_date"] == dt.date(2027, 6, 14)
    assert (a1["venue"], a1["status"], a1["source"]) == ("Elmore Court", "booked", "csv")
    assert rows["A-2"]["status"] == "lead"
    assert rows["A-2"]["wedding_date"] == dt.date(2026, 9, 3)
    assert rows["A-3"]["partner1_phone"] == "+353871234567"
    assert rows["A-3"]["partner1_last"] == "O'Neill"
    # The finished job leaves no upload behind.
    assert imports.rows(sid, "SELECT count(*) FROM import_upload_chunks WHERE job_id = %s", [summary.job_id]) == [(0,)]


def test_semicolon_cp1252_csv(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = write_csv(
        tmp_path / "excel.csv",
        ["Réf", "Prénom", "Nom", "E-mail", "Date du mariage", "Lieu"],
        [
            ["1", "Zoë", "Müller", "zoe@example.com", "01/07/2027", "Château d'Œuf"],
            ["2", "José", "García", "jose@example.com", "15/08/2027", "Café Rouge"],
        ],
        delimiter=";",
        encoding="cp1252",
    )
    # French headers are not in the suggestion table: map them as a photographer would on the page.
    from core.importing.mapping import Mapping

    mapping = Mapping(
        columns={"Réf": "external_id", "Prénom": "partner1_first", "Nom": "partner1_last", "E-mail": "partner1_email",
                 "Date du mariage": "wedding_date", "Lieu": "venue"},
    )  # fmt: skip
    import msgspec

    from core.import_service import create_file_job

    job_id = create_file_job(imports.pool, sid, "GB", path, mapping=msgspec.to_builtins(mapping))
    summary = imports.run(sid, job_id)
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 2, 0)
    rows = {r["external_id"]: r for r in imports.clients(sid)}
    assert (rows["1"]["partner1_first"], rows["1"]["partner1_last"], rows["1"]["venue"]) == (
        "Zoë", "Müller", "Château d'Œuf",
    )  # fmt: skip
    assert rows["1"]["wedding_date"] == dt.date(2027, 7, 1)
    assert (rows["2"]["partner1_first"], rows["2"]["partner1_last"], rows["2"]["venue"]) == (
        "José", "García", "Café Rouge",
    )  # fmt: skip


def test_semicolon_cp1252_with_suggested_mapping(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = write_csv(
        tmp_path / "excel-en.csv",
        ["ID", "First Name", "Last Name", "Email", "Wedding Date"],
        [["x1", "Renée", "Gaël", "renee@example.com", "02/05/2027"]],
        delimiter=";",
        encoding="cp1252",
    )
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created) == ("succeeded", 1)
    [row] = imports.clients(sid)
    assert (row["partner1_first"], row["partner1_last"], row["wedding_date"]) == ("Renée", "Gaël", dt.date(2027, 5, 2))


def test_honeybook_name_with_email(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = write_csv(
        tmp_path / "honeybook.csv",
        ["Project Name", "Client", "Project Date", "Date Inquired", "Booking Date", "Lead Source", "Project Stage"],
        [
            ["Smith Wedding", "Alex Smith (alex@example.com), Sam Jones (sam@example.com)", "06/14/2027",
             "01/02/2026", "02/03/2026", "Instagram", "Booked"],
            ["Khan Wedding", "Aisha Khan (aisha@example.com)", "09/20/2027", "03/04/2026", "", "Google", "Inquiry"],
        ],
    )  # fmt: skip
    summary = imports.import_file(sid, path, source="honeybook")
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 2, 0)
    rows = {r["partner1_email"]: r for r in imports.clients(sid, "honeybook")}
    assert set(rows) == {"alex@example.com", "aisha@example.com"}
    smith = rows["alex@example.com"]
    assert (smith["partner1_first"], smith["partner1_last"]) == ("Alex", "Smith")
    assert (smith["partner2_first"], smith["partner2_last"], smith["partner2_email"]) == (
        "Sam", "Jones", "sam@example.com",
    )  # fmt: skip
    assert smith["wedding_date"] == dt.date(2027, 6, 14)
    assert smith["booking_date"] == dt.date(2026, 2, 3)
    assert (smith["lead_source"], smith["status"]) == ("Instagram", "booked")
    assert rows["aisha@example.com"]["status"] == "lead"


def test_lightblue_csv(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = write_csv(
        tmp_path / "lightblue.csv",
        ["Job reference", "Client first name", "Client surname", "Client email", "Client mobile",
         "Partner first name", "Partner surname", "Wedding date", "Venue", "Status"],
        [
            ["LB-100", "Grace", "Evans", "grace@example.com", "020 7946 0001", "Harry", "Walker", "12/06/2027",
             "Fforest, Cardigan", "Confirmed"],
            ["LB-101", "Mei", "Nguyen", "mei@example.com", "", "Oscar", "Nguyen", "01/10/2027", "", "Enquiry"],
        ],
    )  # fmt: skip
    summary = imports.import_file(sid, path, source="lightblue")
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 2, 0)
    rows = {r["external_id"]: r for r in imports.clients(sid, "lightblue")}
    assert set(rows) == {"LB-100", "LB-101"}
    g = rows["LB-100"]
    assert (g["partner1_first"], g["partner1_last"], g["partner1_phone"]) == ("Grace", "Evans", "+442079460001")
    assert (g["partner2_first"], g["partner2_last"], g["wedding_date"]) == ("Harry", "Walker", dt.date(2027, 6, 12))
    assert (g["venue"], g["status"]) == ("Fforest, Cardigan", "booked")
    assert rows["LB-101"]["status"] == "lead"


VCARDS = """BEGIN:VCARD\r
VERSION:3.0\r
UID:card-1\r
FN:Chloe Taylor\r
N:Taylor;Chloe;;;\r
EMAIL;TYPE=INTERNET:chloe@example.com\r
TEL;TYPE=CELL:020 7946 0555\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:4.0\r
UID:card-2\r
FN:Ewan & Niamh Murphy\r
EMAIL:ewan@example.com\r
ANNIVERSARY:20270821\r
END:VCARD\r
"""


def test_vcard(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = tmp_path / "contacts.vcf"
    path.write_text(VCARDS, newline="")
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created, summary.failed, summary.source) == ("succeeded", 2, 0, "vcard")
    rows = {r["external_id"]: r for r in imports.clients(sid, "vcard")}
    assert set(rows) == {"card-1", "card-2"}
    assert (rows["card-1"]["partner1_first"], rows["card-1"]["partner1_phone"]) == ("Chloe", "+442079460555")
    couple = rows["card-2"]
    assert (couple["partner1_first"], couple["partner2_first"], couple["partner1_last"]) == ("Ewan", "Niamh", "Murphy")
    assert couple["wedding_date"] == dt.date(2027, 8, 21)


def test_reimport_same_file_writes_nothing(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    path = couples_csv(tmp_path / "same.csv", 4500)  # three batches
    first = imports.import_file(sid, path)
    assert (first.status, first.created, first.unchanged) == ("succeeded", 4500, 0)
    before = imports.rows(sid, "SELECT id, version, updated_at, xmin::text FROM clients ORDER BY id")
    second = imports.import_file(sid, path)
    assert (second.status, second.created, second.updated, second.unchanged, second.failed) == (
        "succeeded", 0, 0, 4500, 0,
    )  # fmt: skip
    after = imports.rows(sid, "SELECT id, version, updated_at, xmin::text FROM clients ORDER BY id")
    assert after == before  # not one tuple rewritten: same versions, timestamps and row versions (xmin)
    assert second.message == "Done: 0 new, 0 updated, 4,500 unchanged."

    # One changed cell is one update; the rest stay untouched.
    text = path.read_text().replace("alex7@example.com", "alex7@new.example.com")
    path.write_text(text)
    third = imports.import_file(sid, path)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 4499)
    versions = dict(imports.rows(sid, "SELECT external_id, version FROM clients"))
    assert versions["c7"] == 2
    assert sum(v for k, v in versions.items() if k != "c7") == 4499


def test_a_client_repeated_in_the_next_batch_ends_with_its_later_row(imports: ImportEnv, tmp_path: Path) -> None:
    """Batches are written two at a time; a client in both must still end as the later row says."""
    sid, _ = imports.supplier()
    path = couples_csv(tmp_path / "repeat.csv", 4500)  # batches of 2,000: rows 2-2001, 2002-4001, 4002-4501
    lines = path.read_text().splitlines()
    lines[2_500] = lines[10].replace("Venue", "Moved To")  # row c9 again, in the second batch
    path.write_text("\r\n".join(lines) + "\r\n")
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.processed, summary.created, summary.updated, summary.unchanged) == (
        "succeeded", 4500, 4499, 1, 0,
    )  # fmt: skip
    assert imports.rows(sid, "SELECT venue, version FROM clients WHERE external_id = 'c9'") == [("Moved To 9", 2)]
    assert imports.rows(sid, "SELECT count(*) FROM clients") == [(4499,)]
    [(line, field, reason)] = imports.errors(sid, summary.job_id)  # said, not merged in silence
    assert (line, field) == (2501, "external_id")
    assert reason == "Row 2501: the same ID as row 11, so both rows are one client, with this row's details"


def test_a_file_without_ids_keeps_different_people_apart_and_says_when_two_rows_are_one(
    imports: ImportEnv, tmp_path: Path
) -> None:
    sid, _ = imports.supplier()
    path = write_csv(
        tmp_path / "no-ids.csv",
        ["First Name", "Last Name", "Email", "Phone", "Wedding Date"],
        [
            ["José", "Williams", "jose.w@example.com", "", "2027-06-12"],
            ["José", "Williams", "jw1988@example.com", "", "2027-09-04"],  # another José Williams
            ["Ana", "Lopes", "", "020 7946 0321", ""],  # a phone, no email, no date
            ["Ana", "Lopes", "", "020 7946 0999", ""],  # another Ana Lopes: another phone
            ["José", "Williams", "JOSE.W@example.com", "", "12/06/2027"],  # the first José again
        ],
    )
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 4, 0)
    people = imports.rows(sid, "SELECT partner1_first, partner1_email, partner1_phone FROM clients ORDER BY id")
    assert sorted(people, key=str) == sorted(
        [
            ("José", "jose.w@example.com", None),
            ("José", "jw1988@example.com", None),
            ("Ana", None, "+442079460321"),
            ("Ana", None, "+442079460999"),
        ],
        key=str,
    )
    [(line, _, reason)] = imports.errors(sid, summary.job_id)
    assert line == 6
    assert "same person and wedding date as row 2" in reason


def test_possible_duplicates_across_sources(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    couples_csv(tmp_path / "dup.csv", 3)
    imports.import_file(sid, tmp_path / "dup.csv")
    # The same couple as c1 in a phone's contacts (same email), and one unrelated card.
    path = tmp_path / "dup.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v1\r\nFN:Alex1 Smith1\r\nEMAIL:ALEX1@example.com\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v2\r\nFN:Someone Else\r\nEMAIL:else@example.com\r\nEND:VCARD\r\n",
        newline="",
    )
    summary = imports.import_file(sid, path)
    assert (summary.created, summary.duplicates) == (2, 1)
    rows = imports.rows(
        sid,
        "SELECT c.external_id, o.external_id, o.source, d.reason FROM sync_job_duplicates d "
        "JOIN clients c ON c.id = d.client_id JOIN clients o ON o.id = d.other_client_id WHERE d.job_id = %s",
        [summary.job_id],
    )
    assert rows == [("v1", "c1", "csv", "same email")]
    # Re-importing the cards writes nothing, so it flags nothing new either.
    again = imports.import_file(sid, path)
    assert (again.unchanged, again.duplicates) == (2, 0)


def test_possible_duplicates_from_a_later_source_name(imports: ImportEnv, tmp_path: Path) -> None:
    # The other source sorts after this job's ('vcard' > 'csv'): the upsert's "any other source?" probe
    # looks on both sides. Another supplier's cards with the same couples never count.
    sid, _ = imports.supplier()
    other, _ = imports.supplier()
    cards = tmp_path / "c.vcf"
    cards.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v1\r\nFN:Alex1 Smith1\r\nEMAIL:alex1@elsewhere.com\r\n"
        "ANNIVERSARY:2027-02-02\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v2\r\nFN:Someone Else\r\nEMAIL:alex2@example.com\r\nEND:VCARD\r\n",
        newline="",
    )
    imports.import_file(other, cards)
    assert imports.import_file(other, couples_csv(tmp_path / "o.csv", 3)).duplicates == 2
    imports.import_file(sid, cards)
    summary = imports.import_file(sid, couples_csv(tmp_path / "dup.csv", 3))
    assert (summary.created, summary.duplicates) == (3, 2)
    rows = imports.rows(
        sid,
        "SELECT c.external_id, o.external_id, o.source, d.reason FROM sync_job_duplicates d "
        "JOIN clients c ON c.id = d.client_id JOIN clients o ON o.id = d.other_client_id WHERE d.job_id = %s "
        "ORDER BY c.external_id",
        [summary.job_id],
    )
    assert rows == [("c1", "v1", "vcard", "same name and wedding date"), ("c2", "v2", "vcard", "same email")]


def test_a_shared_surname_and_date_is_not_a_duplicate(imports: ImportEnv, tmp_path: Path) -> None:
    """Emma Davis and Noah Davis marrying on the same day are two people; Noah (listed second by the cards, with
    another email) is the same person as the spreadsheet's Noah Davis on that date."""
    sid, _ = imports.supplier()
    sheet = write_csv(tmp_path / "sheet.csv", ["Client ID", "First Name", "Last Name", "Email", "Wedding Date"],
                      [["s1", "Emma", "Davis", "emma@example.com", "2027-06-12"]])  # fmt: skip
    imports.import_file(sid, sheet)
    cards = tmp_path / "cards.vcf"
    cards.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:k1\r\nFN:Noah Davis\r\nEMAIL:noah@example.com\r\n"
        "ANNIVERSARY:2027-06-12\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:k2\r\nFN:EMMA DÁVIS\r\nEMAIL:em@elsewhere.com\r\n"
        "ANNIVERSARY:2027-06-12\r\nEND:VCARD\r\n",
        newline="",
    )
    summary = imports.import_file(sid, cards)
    rows = imports.rows(
        sid,
        "SELECT c.external_id, o.external_id, d.reason FROM sync_job_duplicates d "
        "JOIN clients c ON c.id = d.client_id JOIN clients o ON o.id = d.other_client_id WHERE d.job_id = %s",
        [summary.job_id],
    )
    assert rows == [("k2", "s1", "same name and wedding date")]


def _cli(imports: ImportEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webapp.cli", *args],
        env=imports.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_import_through_the_worker_and_inline(imports: ImportEnv, tmp_path: Path) -> None:
    sid, email = imports.supplier()
    path = couples_csv(tmp_path / "cli.csv", 120)
    done = _cli(imports, "import", "--supplier", email.upper(), str(path))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert (summary["created"], summary["updated"], summary["unchanged"], summary["errors"]) == (120, 0, 0, 0)
    assert summary["attempts"] == 1
    assert summary["source"] == "csv"
    assert len(imports.clients(sid)) == 120

    inline = _cli(imports, "import", "--inline", "--supplier", email, "--source", "csv", str(path))
    assert inline.returncode == 0, inline.stderr
    again = json.loads(inline.stdout.strip().splitlines()[-1])
    assert (again["status"], again["unchanged"], again["created"]) == ("succeeded", 120, 0)
    assert again["job_id"] != summary["job_id"]


def test_cli_import_failures_exit_nonzero_with_plain_words(imports: ImportEnv, tmp_path: Path) -> None:
    _, email = imports.supplier()
    unknown = _cli(imports, "import", "--inline", "--supplier", "nobody@example.com", str(tmp_path / "x.csv"))
    assert unknown.returncode == 2
    assert "No supplier signs in with 'nobody@example.com'" in unknown.stderr
    missing = _cli(imports, "import", "--inline", "--supplier", email, str(tmp_path / "missing.csv"))
    assert missing.returncode == 2
    assert "There is no file at" in missing.stderr
    assert "missing.csv" in missing.stderr
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 64)
    failed = _cli(imports, "import", "--inline", "--supplier", email, str(junk))
    assert failed.returncode == 1
    result = json.loads(failed.stdout.strip().splitlines()[-1])
    assert result["status"] == "failed"
    assert "doesn't look like a spreadsheet" in result["message"]


CORPUS = ROOT / "tests" / "corpus"


def _corpus_job(imports: ImportEnv, sid: int, region: str, name: str, tmp_path: Path, data: bytes | None = None) -> int:
    from core.import_service import create_file_job

    path = tmp_path / name
    path.write_bytes(data if data is not None else (CORPUS / name).read_bytes())
    return create_file_job(imports.pool, sid, region, path)  # no source chosen: recognised from the headers


def _notes(imports: ImportEnv, sid: int) -> list[tuple[str, str]]:
    return imports.rows(
        sid,
        "SELECT c.partner1_first, n.body FROM client_notes n JOIN clients c ON c.id = n.client_id "
        "ORDER BY c.partner1_first, n.id",
    )


def test_a_german_outlook_export_through_the_worker(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier("DE")
    summary = imports.run(sid, _corpus_job(imports, sid, "DE", "outlook_de.csv", tmp_path))
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 2, 0)
    got = [
        (r["partner1_first"], r["partner1_last"], r["partner1_email"], r["partner1_phone"], r["partner2_first"],
         r["partner2_last"], r["wedding_date"], r["source"])
        for r in sorted(imports.clients(sid), key=lambda r: r["partner1_first"])
    ]  # fmt: skip
    assert got == [
        ("Jürgen", "Groß", "juergen.gross@example.de", "+491712345678", "Lena", "Weiß", dt.date(2027, 6, 14), "csv"),
        ("Zoë", "Schäfer", "zoe.schaefer@example.de", "+49309876543", "", "", None, "csv"),
    ]
    assert _notes(imports, sid) == [("Jürgen", "Trauung im Schloss Nymphenburg")]


def test_google_contacts_notes_land_once(imports: ImportEnv, tmp_path: Path) -> None:
    """A Google file with " ::: " cells: the first value fills each field, the notes become notes on the clients
    the import creates, and importing the file again adds none (those clients were not created by it)."""
    sid, _ = imports.supplier()
    first = imports.run(sid, _corpus_job(imports, sid, "GB", "google_contacts.csv", tmp_path))
    assert (first.status, first.created, first.failed) == ("partially_succeeded", 3, 1)
    assert imports.errors(sid, first.job_id) == [
        (5, None, "Row 5: no name, email or phone number, so we can't tell who this is")
    ]
    rows = {r["partner1_first"]: r for r in imports.clients(sid)}
    assert (rows["Olivia"]["partner1_email"], rows["Olivia"]["partner1_phone"]) == (
        "olivia.bennett@example.com", "+447911123461",
    )  # fmt: skip
    assert (rows["Olivia"]["partner2_first"], rows["Olivia"]["wedding_date"]) == ("James", dt.date(2027, 6, 12))
    expected = [
        ("Aoife", "Ceremony in Irish, reception in English"),
        ("Olivia", "Met at the Bristol wedding fair. Wants a second shooter."),
    ]
    assert _notes(imports, sid) == expected
    again = imports.run(sid, _corpus_job(imports, sid, "GB", "google_contacts.csv", tmp_path))
    assert (again.created, again.unchanged) == (0, 3)
    # The same file with a note edited: the client is updated, and still gets no second note.
    edited = (CORPUS / "google_contacts.csv").read_bytes().replace(b"Wants a second shooter.", b"Wants drone shots.")
    third = imports.run(sid, _corpus_job(imports, sid, "GB", "google_contacts.csv", tmp_path, edited))
    assert third.created == 0
    assert _notes(imports, sid) == expected


def test_a_nul_byte_in_row_3_is_reported_not_refused(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    summary = imports.run(sid, _corpus_job(imports, sid, "GB", "nul_row3.csv", tmp_path))
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 3, 0)
    assert summary.message == (
        "Done: 3 new, 0 updated, 0 unchanged. We removed 1 invisible NUL character (a sign of a damaged export) "
        "from line 3; the rest of each line was imported."
    )
    assert [r["partner1_first"] for r in imports.clients(sid)] == ["Ella", "Leo", "Isla"]


def test_a_honeybook_booked_client_report_gives_couples(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier("US")
    summary = imports.run(sid, _corpus_job(imports, sid, "US", "honeybook_booked_client.csv", tmp_path))
    assert (summary.status, summary.processed, summary.created, summary.failed) == ("succeeded", 3, 3, 0)
    couples = sorted(
        (r["partner1_first"], r["partner2_first"], r["status"], r["wedding_date"]) for r in imports.clients(sid)
    )
    assert couples == [
        ("Emily", "Jacob", "booked", dt.date(2026, 9, 13)),
        ("Priya", "", "booked", dt.date(2026, 5, 1)),
        ("Sarah", "Alex", "booked", dt.date(2026, 10, 3)),
    ]
