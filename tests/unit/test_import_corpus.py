"""Real-shape exports (tests/corpus/), each with the exact clients it must give, through the pipeline as an import
job runs it: the reader, the suggested mapping (the source recognised from the headers, no preset chosen), the
normalisation and validation. tests/test_import_files.py runs some of the same files through a real worker."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest

from core.importing import VCARD_KEYS, ClientRecord, Mapping, RowError, iter_records, open_table, read_vcards
from core.importing.mapping import recognise

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
D = dt.date


def client(**fields: Any) -> dict[str, Any]:
    """A client as the test compares it: every field that is not empty (so the others must be), status included."""
    return {"status": "lead", **fields}


def shape(record: ClientRecord) -> dict[str, Any]:
    fields = {f: getattr(record, f) for f in record.__struct_fields__ if f not in ("import_digest", "warnings", "line")}
    # Files without an id column key clients on a hash of who they are: checked for its form, not its value.
    if fields["external_id"].startswith(("h-", "vcard-")):
        del fields["external_id"]
    return {k: v for k, v in fields.items() if v not in (None, "")}


def run(name: str, region: str, preset: str | None = None) -> tuple[list[dict[str, Any]], list[tuple[int, str]], Any]:
    data = (CORPUS / name).read_bytes()
    if name.endswith(".vcf"):
        rows: Any = read_vcards(io.BytesIO(data))
        headers, notice = list(VCARD_KEYS), None
        preset = "vcard"
    else:
        reader = open_table(io.BytesIO(data))
        rows, headers = list(reader), reader.headers
        notice = reader.nul_notice()
    results = list(iter_records(rows, Mapping.suggest(headers, preset, region)))
    clients = [shape(r) for r in results if isinstance(r, ClientRecord)]
    errors = [(r.line, r.reason) for r in results if isinstance(r, RowError)]
    return clients, errors, notice


CASES: dict[str, tuple[str, str | None, list[dict[str, Any]]]] = {
    # file: (studio's region, source recognised from the headers, clients)
    "google_contacts.csv": ("GB", "google", [
        # " ::: " cells: the first email and phone are the client's. The Event typed
        # Anniversary is the wedding (not the Birthday before it), the Relation typed Spouse the partner.
        client(partner1_first="Olivia", partner1_last="Bennett", partner1_email="olivia.bennett@example.com",
               partner1_phone="+447911123461", partner2_first="James", partner2_last="Carter",
               wedding_date=D(2027, 6, 12), notes="Met at the Bristol wedding fair. Wants a second shooter."),
        client(partner1_first="Aoife", partner1_last="Byrne", partner1_email="aoife.byrne@example.ie",
               partner1_phone="+353871234567", wedding_date=D(2027, 8, 21),
               notes="Ceremony in Irish, reception in English"),
        client(partner1_first="Tom", partner1_last="Price", partner1_phone="+447911123789"),
    ]),
    "google_contacts_new.csv": ("GB", "google", [
        client(partner1_first="Siobhán", partner1_last="Ní Bhriain", partner1_email="siobhan@example.ie",
               partner1_phone="+353867654321", partner2_first="Benjamin", partner2_last="Ó Briain",
               wedding_date=D(2027, 9, 4), notes="Prefers email"),
        client(partner1_first="Mei", partner1_last="Chen", partner1_email="mei.chen@example.com",
               partner1_phone="+447911123555"),
    ]),
    "outlook_en.csv": ("GB", "outlook", [
        # Outlook's "Location" (an office) is not the venue, "Other Phone" not the partner's, 0/0/00 no date.
        client(partner1_first="Grace", partner1_last="O'Connell", partner1_email="grace.oconnell@example.co.uk",
               partner1_phone="+447911123321", partner2_first="Daniel", partner2_last="Hughes",
               wedding_date=D(2027, 6, 14), notes="Venue: Hazlewood Castle"),
        # No mobile: the primary phone is hers.
        client(partner1_first="Hannah", partner1_last="Lee", partner1_email="hannah.lee@example.com",
               partner1_phone="+447911123654"),
        client(partner1_first="Ravi", partner1_last="Sharma", partner1_email="ravi@example.com",
               wedding_date=D(2027, 10, 3)),
    ]),
    "outlook_de.csv": ("DE", "outlook", [
        client(partner1_first="Jürgen", partner1_last="Groß", partner1_email="juergen.gross@example.de",
               partner1_phone="+491712345678", partner2_first="Lena", partner2_last="Weiß",
               wedding_date=D(2027, 6, 14), notes="Trauung im Schloss Nymphenburg"),
        client(partner1_first="Zoë", partner1_last="Schäfer", partner1_email="zoe.schaefer@example.de",
               partner1_phone="+49309876543"),  # no Mobiltelefon: Telefon privat
    ]),
    "german_spreadsheet.csv": ("DE", None, [
        client(partner1_first="Björn", partner1_last="Müller", partner1_email="bjoern@example.de",
               partner1_phone="+491711112223", wedding_date=D(2027, 8, 21), notes="Fotos vor der Kirche"),
        client(partner1_first="Ingrid", partner1_last="Schmidt", partner1_email="ingrid@example.de",
               partner1_phone="+49402223334", wedding_date=D(2027, 5, 1)),
    ]),
    "outlook_fr.csv": ("FR", "outlook", [
        # "Anniversaire" is a birthday in French; "Anniversaire de mariage" the wedding.
        client(partner1_first="Élodie", partner1_last="Lefèvre", partner1_email="elodie.lefevre@example.fr",
               partner1_phone="+33612345678", wedding_date=D(2027, 9, 12), notes="Mariage à Giverny"),
    ]),
    "outlook_es.csv": ("ES", "outlook", [
        client(partner1_first="José", partner1_last="García López", partner1_email="jose.garcia@example.es",
               partner1_phone="+34612345678", wedding_date=D(2027, 6, 5), notes="Boda en Sevilla"),
    ]),
    "outlook_it.csv": ("IT", "outlook", [
        client(partner1_first="Giulia", partner1_last="Rossi", partner1_email="giulia.rossi@example.it",
               partner1_phone="+393471234567", wedding_date=D(2027, 9, 18), notes="Matrimonio a Firenze"),
    ]),
    "outlook_nl.csv": ("NL", "outlook", [
        client(partner1_first="Sanne", partner1_last="van Dijk", partner1_email="sanne@example.nl",
               partner1_phone="+31612345678", wedding_date=D(2027, 7, 3), notes="Trouwen in Utrecht"),
    ]),
    "honeybook_contacts.csv": ("US", None, [
        client(partner1_first="Emily", partner1_last="Johnson", partner1_email="emily.johnson@example.com",
               partner1_phone="+13125550147", lead_source="Instagram", inquiry_date=D(2025, 6, 30)),
        client(partner1_first="Michael", partner1_last="Brown", partner1_email="mbrown@example.com",
               partner1_phone="+13125550188", lead_source="The Knot", inquiry_date=D(2025, 7, 2)),
    ]),
    "honeybook_projects.csv": ("US", "honeybook", [
        client(external_id="hb-1001", partner1_first="Emily", partner1_last="Johnson",
               partner1_email="emily.johnson@example.com", partner2_first="Jacob", partner2_last="Miller",
               partner2_email="jacob.miller@example.com", wedding_date=D(2026, 9, 13), venue="The Drake Hotel",
               status="booked", lead_source="Instagram", inquiry_date=D(2025, 6, 30), booking_date=D(2025, 7, 15)),
        client(external_id="hb-1002", partner1_first="Sarah", partner1_last="Davis",
               partner1_email="sarah.d@example.com", lead_source="Google", inquiry_date=D(2025, 8, 1)),
    ]),
    "honeybook_booked_client.csv": ("US", "honeybook", [
        # One row per person in a project: the two rows of a project are one couple, booked.
        client(partner1_first="Emily", partner1_last="Johnson", partner1_email="emily.johnson@example.com",
               partner2_first="Jacob", partner2_last="Miller", partner2_email="jacob.miller@example.com",
               wedding_date=D(2026, 9, 13), status="booked", lead_source="Instagram", inquiry_date=D(2025, 1, 18),
               booking_date=D(2025, 2, 1)),
        client(partner1_first="Sarah", partner1_last="Davis", partner1_email="sarah.d@example.com",
               partner2_first="Alex", partner2_last="Nguyen", partner2_email="alex.nguyen@example.com",
               wedding_date=D(2026, 10, 3), status="booked", lead_source="Google", inquiry_date=D(2025, 3, 2),
               booking_date=D(2025, 3, 20)),
        client(partner1_first="Priya", partner1_last="Patel", partner1_email="priya@example.com",
               wedding_date=D(2026, 5, 1), status="booked", lead_source="Referral", inquiry_date=D(2025, 4, 11),
               booking_date=D(2025, 4, 30)),
    ]),
    "honeybook_payments.csv": ("US", "honeybook", [
        # A payment report: upper-case headers, a client per payment (the import keeps one client per couple).
        *[client(partner1_first="Emily", partner1_last="Johnson", partner1_email="emily.johnson@example.com",
                 partner2_first="Jacob", partner2_last="Miller", partner2_email="jacob.miller@example.com")] * 2,
        client(partner1_first="Sarah", partner1_last="Davis", partner1_email="sarah.d@example.com"),
    ]),
    "dubsado_leads.csv": ("US", "dubsado", [
        client(partner1_first="Ashley", partner1_last="Wilson", partner1_email="ashley.wilson@example.com",
               partner1_phone="+14155550132", partner2_first="Ryan", partner2_last="Wilson",
               partner2_email="ryan.wilson@example.com", inquiry_date=D(2025, 3, 14)),
        client(partner1_first="Brianna", partner1_last="Taylor", partner1_email="bri.taylor@example.com",
               inquiry_date=D(2025, 11, 2)),
    ]),
    "seventeen_hats.csv": ("US", "seventeen_hats", [
        client(partner1_first="Kayla", partner1_last="Martinez", partner1_email="kayla.m@example.com",
               partner1_phone="+15125550175", wedding_date=D(2026, 10, 17), lead_source="Instagram",
               notes="Loves golden hour"),
        client(partner1_first="Jordan", partner1_last="Lee", partner1_email="jordan.lee@example.com",
               partner1_phone="+15125550190", wedding_date=D(2027, 4, 24), lead_source="Past client"),
    ]),
    "studio_ninja.csv": ("AU", "studio_ninja", [
        client(partner1_first="Chloe", partner1_last="Nguyen", partner1_email="chloe@example.com.au",
               partner1_phone="+61412345678", wedding_date=D(2026, 11, 21), status="booked", lead_source="Instagram",
               inquiry_date=D(2025, 2, 3), booking_date=D(2025, 2, 17)),
        client(partner1_first="Mia", partner1_last="Thompson", partner1_email="mia.t@example.com.au",
               partner1_phone="+61423456789", wedding_date=D(2027, 3, 6), lead_source="Google",
               inquiry_date=D(2025, 6, 15)),
    ]),
    "pixieset_contacts.csv": ("GB", None, [
        client(partner1_first="Natalie", partner1_last="Green", partner1_email="natalie.green@example.com",
               partner1_phone="+447911123111", inquiry_date=D(2025, 5, 4), notes="Second shooter booked"),
        client(partner1_first="Oscar", partner1_last="White", partner1_email="oscar.white@example.com",
               inquiry_date=D(2025, 6, 1)),
    ]),
    "lightblue.csv": ("GB", "lightblue", [
        client(external_id="LB-2041", partner1_first="Amelia", partner1_last="Clarke",
               partner1_email="amelia.clarke@example.co.uk", partner1_phone="+447911123222", partner2_first="Oliver",
               partner2_last="Hughes", wedding_date=D(2027, 6, 14), venue="Elmore Court", status="booked",
               inquiry_date=D(2025, 1, 2), notes="Speeches at 4pm"),
        client(external_id="LB-2042", partner1_first="Freya", partner1_last="Wood",
               partner1_email="freya.wood@example.co.uk", inquiry_date=D(2025, 3, 10)),
    ]),
    "tave_jobs.csv": ("GB", "tave", [
        client(external_id="01hq3z7k9d", partner1_first="Lucy", partner1_last="Evans",
               partner1_email="lucy.evans@example.com", partner1_phone="+447911123333", partner2_first="Sam",
               partner2_last="Evans", partner2_email="sam.evans@example.com", wedding_date=D(2027, 5, 29),
               venue="Babington House", status="booked", lead_source="Instagram", inquiry_date=D(2025, 2, 11),
               booking_date=D(2025, 3, 1)),
        client(external_id="01hq3z7kaa", partner1_first="Noor", partner1_last="Hassan",
               partner1_email="noor@example.com", lead_source="Google", inquiry_date=D(2025, 4, 20)),
    ]),
    "nul_row3.csv": ("GB", None, [
        client(external_id="N-1", partner1_first="Ella", partner1_last="Hall", partner1_email="ella@example.com",
               wedding_date=D(2027, 4, 3)),
        client(external_id="N-2", partner1_first="Leo", partner1_last="Ward", partner1_email="leo@example.com",
               wedding_date=D(2027, 4, 17)),
        client(external_id="N-3", partner1_first="Isla", partner1_last="Reid", partner1_email="isla@example.com",
               wedding_date=D(2027, 5, 22)),
    ]),
    "android_contacts.vcf": ("GB", None, [
        # vCard 2.1 with quoted-printable UTF-8 and a soft line break (Android, Samsung), then a vCard 4.0.
        client(partner1_first="Jürgen", partner1_last="Müller", partner1_email="juergen@example.de",
               partner1_phone="+491712345678", notes="Hochzeit im Schloßgarten, Fotos vor der Kirche"),
        client(partner1_first="Ana", partner1_last="Souza", partner1_email="ana@example.com.br",
               partner1_phone="+5511912345678", wedding_date=D(2027, 5, 15)),
    ]),
    "icloud_contacts.vcf": ("GB", None, [
        client(partner1_first="Sara", partner1_last="Khan", partner1_email="sara.khan@example.com",
               partner1_phone="+447911123444", wedding_date=D(2027, 7, 10), notes="Met at the Hitched fair"),
        client(partner1_first="Tom", partner1_last="Evans", partner1_phone="+447911123445"),
    ]),
}  # fmt: skip
ERRORS = {"google_contacts.csv": [(5, "Row 5: no name, email or phone number, so we can't tell who this is")]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_export_gives_exactly_its_clients(name: str) -> None:
    region, _, expected = CASES[name]
    clients, errors, _ = run(name, region)
    assert clients == expected
    assert errors == ERRORS.get(name, [])


@pytest.mark.parametrize("name", sorted(n for n in CASES if not n.endswith(".vcf")))
def test_each_export_is_recognised_from_its_headers(name: str) -> None:
    _, source, _ = CASES[name]
    assert recognise(open_table(io.BytesIO((CORPUS / name).read_bytes())).headers) == source


@pytest.mark.parametrize("name", sorted(n for n, case in CASES.items() if case[1]))
def test_choosing_the_source_gives_the_same_clients(name: str) -> None:
    region, source, expected = CASES[name]
    assert run(name, region, source)[0] == expected


def test_every_corpus_file_has_its_clients_written_down() -> None:
    assert {p.name for p in CORPUS.iterdir()} == set(CASES)


def test_a_nul_in_row_3_is_removed_and_reported() -> None:
    _, _, notice = run("nul_row3.csv", "GB")
    assert notice == (
        "We removed 1 invisible NUL character (a sign of a damaged export) from line 3; "
        "the rest of each line was imported."
    )


def test_nul_bytes_early_and_late_keep_every_row() -> None:
    lines = ["Client\x00 ID,First Name,Last Name,Email"]  # in the header: the file used to be refused as binary
    lines += [f"C-{i},Name{i},Surname,p{i}@example.com" for i in range(2, 3002)]
    lines[2500] = lines[2500].replace("Name", "Na\x00\x00me")  # line 2,501
    reader = open_table(io.BytesIO("\r\n".join(lines).encode()))
    results = list(iter_records(reader, Mapping.suggest(reader.headers)))
    assert all(isinstance(r, ClientRecord) for r in results)
    assert len(results) == 3000
    assert [r.partner1_first for r in results if r.external_id == "C-2501"] == ["Name2501"]
    assert reader.nul_chars == 3
    assert reader.nul_lines == [1, 2501]
    assert "from lines 1, 2501;" in (reader.nul_notice() or "")


def test_a_file_of_nul_padding_and_binary_is_still_refused() -> None:
    from core.importing.records import ImportFileError

    with pytest.raises(ImportFileError, match="binary data"):
        open_table(io.BytesIO(b"Name,Email\n" + bytes(range(1, 32)) * 200 + b"\x00" * 500))
