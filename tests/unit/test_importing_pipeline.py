from __future__ import annotations

import datetime
import io
import itertools
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from core.importing import (
    VCARD_KEYS,
    ClientRecord,
    Mapping,
    RawRow,
    RowError,
    iter_records,
    open_table,
    prepare,
    read_vcards,
)
from core.importing.pipeline import LOOKAHEAD_ROWS


def run(data: bytes, preset: str | None = None, region: str = "GB") -> list[ClientRecord | RowError]:
    reader = open_table(io.BytesIO(data))
    return list(iter_records(reader, Mapping.suggest(reader.headers, preset, region)))


def records(results: list[ClientRecord | RowError]) -> list[ClientRecord]:
    assert all(isinstance(r, ClientRecord) for r in results), [r for r in results if isinstance(r, RowError)]
    return [r for r in results if isinstance(r, ClientRecord)]


def test_date_order_proved_late_in_the_file_applies_to_early_rows() -> None:
    lines = ["Name,Email,Wedding Date"]
    lines += [f"Person {i},p{i}@example.com,03/04/2027" for i in range(2, 40)]
    lines.append("Late,late@example.com,23/04/2027")  # line 40: day first, proves DMY
    data = ("\n".join(lines) + "\n").encode()
    # A US supplier would default to month first; the file itself says otherwise.
    prepared = prepare(open_table(io.BytesIO(data)), Mapping.suggest(lines[0].split(","), None, "US"))
    assert prepared.date_order.order == "DMY"
    assert prepared.date_order.day_first_line == 40
    got = records(list(prepared))
    assert got[0].wedding_date == datetime.date(2027, 4, 3)
    assert got[-1].wedding_date == datetime.date(2027, 4, 23)


def test_ambiguous_file_uses_supplier_region() -> None:
    data = b"Name,Wedding Date\nAlex,03/04/2027\n"
    assert records(run(data, region="US"))[0].wedding_date == datetime.date(2027, 3, 4)
    assert records(run(data, region="GB"))[0].wedding_date == datetime.date(2027, 4, 3)


def test_contradictory_dates_are_left_out_with_a_file_message() -> None:
    data = b"Name,Wedding Date\nA,23/04/2027\nB,24/04/2027\nC,04/25/2027\n"
    reader = open_table(io.BytesIO(data))
    prepared = prepare(reader, Mapping.suggest(reader.headers))
    assert prepared.date_order.reason == "contradictory"
    results = list(prepared)
    third = results[2]
    assert isinstance(third, ClientRecord)
    assert (third.partner1_first, third.wedding_date) == ("C", None)
    (warning,) = third.warnings
    assert warning.line == 4
    assert "doesn't fit the day/month/year order" in warning.reason


def test_chosen_date_order_overrides_detection() -> None:
    rows = [RawRow(line=2, values={"Name": "A", "Date": "23/04/2027"})]
    mapping = Mapping(columns={"Name": "partner1_name", "Date": "wedding_date"}, date_order="MDY")
    (result,) = list(iter_records(rows, mapping))
    assert isinstance(result, ClientRecord)
    assert result.wedding_date is None
    assert [w.field for w in result.warnings] == ["wedding_date"]


def test_lookahead_is_bounded_and_lazy() -> None:
    pulled = 0

    def source() -> Iterator[RawRow]:
        nonlocal pulled
        for i in itertools.count(2):
            pulled += 1
            yield RawRow(line=i, values={"Email": f"p{i}@example.com"})

    stream = iter_records(source(), Mapping(columns={"Email": "partner1_email"}))
    first = next(stream)
    assert isinstance(first, ClientRecord)
    assert pulled == LOOKAHEAD_ROWS
    list(itertools.islice(stream, 2000))
    assert pulled == 2001


HONEYBOOK = (
    "First Name\tLast Name\tEmail\tPhone\tProject Name\tProject Date\tDate Inquired\tBooking Date\tLead Source\r\n"
    "Alex\tSmith\talex@example.com\t(415) 555-0134\tAlex & Sam Wedding\t06/14/2027\t01/05/2026\t02/01/2026"
    "\tInstagram\r\n"
    "Jamie\tLee\tjamie@example.com\t\tJamie + Pat\t09/20/2027\t03/02/2026\t\tGoogle\r\n"
)


def test_honeybook_tab_separated_export() -> None:
    got = records(run(HONEYBOOK.encode(), "honeybook", "US"))
    assert [(r.partner1_first, r.partner1_email, r.wedding_date) for r in got] == [
        ("Alex", "alex@example.com", datetime.date(2027, 6, 14)),
        ("Jamie", "jamie@example.com", datetime.date(2027, 9, 20)),
    ]
    assert got[0].partner1_phone == "+14155550134"
    assert got[0].inquiry_date == datetime.date(2026, 1, 5)
    assert got[0].booking_date == datetime.date(2026, 2, 1)
    assert got[0].lead_source == "Instagram"


def test_honeybook_name_email_report() -> None:
    data = (
        b"Client,Project Date,Stage\n"
        b'"Alex Smith (alex@example.com), Sam Jones (sam@example.com)",2027-06-14,Retainer paid\n'
        b"Jo Bloggs (jo@example.com),2027-07-01,Inquiry\n"
        b"Broken (jo@),2027-07-01,Inquiry\n"
    )
    results = run(data, "honeybook", "US")
    first, second, third = results
    assert isinstance(first, ClientRecord)
    assert (first.partner1_first, first.partner1_email, first.partner2_last, first.partner2_email) == (
        "Alex", "alex@example.com", "Jones", "sam@example.com",
    )  # fmt: skip
    assert first.status == "booked"
    assert isinstance(second, ClientRecord)
    assert second.status == "lead"
    assert isinstance(third, ClientRecord)
    assert (third.partner1_first, third.partner1_email) == ("Broken", None)
    assert [w.reason for w in third.warnings] == ["Row 4: the client 'jo@' is not a valid address, so it was not saved"]


LIGHTBLUE = (
    "Job Reference,Client First Name,Client Surname,Partner First Name,Partner Surname,Email,Mobile,"
    "Wedding Date,Venue,Status\r\n"
    "LB-001,EMMA,O'BRIEN,james,mcdonald,emma@example.co.uk,07911 123456,14/06/2027,Hedingham Castle,Confirmed\r\n"
    'LB-002,Renée,Dubois,,,renee@example.fr,+33 6 12 34 56 78,21/08/2027,"Château, Loire",Enquiry\r\n'
)


def test_lightblue_export_cp1252() -> None:
    got = records(run(LIGHTBLUE.encode("cp1252"), "lightblue"))
    emma, renee = got
    assert emma.external_id == "LB-001"
    assert (emma.partner1_first, emma.partner1_last, emma.partner2_first, emma.partner2_last) == (
        "Emma", "O'Brien", "James", "McDonald",
    )  # fmt: skip
    assert emma.partner1_phone == "+447911123456"
    assert emma.wedding_date == datetime.date(2027, 6, 14)
    assert emma.status == "booked"
    assert (renee.partner1_first, renee.venue, renee.partner1_phone) == ("Renée", "Château, Loire", "+33612345678")
    assert renee.status == "lead"


def test_vcard_through_the_pipeline() -> None:
    data = (
        b"BEGIN:VCARD\nVERSION:3.0\nFN:Alex & Sam Smith\nN:Smith;Alex & Sam;;;\n"
        b"EMAIL:alex@example.com\nTEL:07911 123456\nX-ANNIVERSARY:2027-06-14\nEND:VCARD\n"
        b"BEGIN:VCARD\nVERSION:3.0\nFN:Jo Bloggs\nEMAIL:jo@example.com\nEND:VCARD\n"
    )
    rows = read_vcards(io.BytesIO(data))
    got = records(list(iter_records(rows, Mapping.suggest(list(VCARD_KEYS), "vcard"))))
    couple, jo = got
    assert (couple.partner1_first, couple.partner1_last, couple.partner2_first, couple.partner2_last) == (
        "Alex", "Smith", "Sam", "Smith",
    )  # fmt: skip
    assert couple.partner1_phone == "+447911123456"
    assert couple.wedding_date == datetime.date(2027, 6, 14)
    assert couple.external_id.startswith("vcard-")
    assert (jo.partner1_first, jo.partner1_last) == ("Jo", "Bloggs")


def test_hostile_cells_lose_the_field_and_rows_with_no_one_in_them_fail() -> None:
    data = (
        "Name,Email,Wedding Date,Notes\n"
        f"Long,long@example.com,2027-06-14,ok\n"
        f"Huge,{'x' * 12_000}@example.com,2027-06-14,ok\n"
        "Nobody,,,\n"
        ",,,just a note\n"
        "Bad Date,bd@example.com,2027-02-30,\n"
        "<img src=x onerror=alert(1)>,xss@example.com,,\n"
    ).encode()
    results = run(data)
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["ClientRecord", "ClientRecord", "ClientRecord", "RowError", "ClientRecord", "ClientRecord"]
    huge = results[1]
    assert isinstance(huge, ClientRecord)
    assert (huge.partner1_first, huge.partner1_email) == ("Huge", None)
    assert [(w.line, w.field) for w in huge.warnings] == [(3, "partner1_email")]
    assert "12,012 characters" in huge.warnings[0].reason
    assert isinstance(results[3], RowError)
    assert results[3].reason == "Row 5: no name, email or phone number, so we can't tell who this is"
    bad_date = results[4]
    assert isinstance(bad_date, ClientRecord)
    assert (bad_date.partner1_email, bad_date.wedding_date) == ("bd@example.com", None)
    assert isinstance(results[5], ClientRecord)
    assert results[5].partner1_first.startswith("<img")


def test_reimporting_the_same_file_gives_the_same_ids() -> None:
    data = b"Name,Email,Wedding Date\nAlex Smith,alex@example.com,14/06/2027\nSam Jones,,\n"
    first = [r.external_id for r in records(run(data))]
    again = [r.external_id for r in records(run(data))]
    assert first == again
    assert len(set(first)) == 2


def test_200k_rows_stream_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("ID,First Name,Last Name,Email,Wedding Date,Venue\r\n")
        fh.writelines(
            f"{i},Alex{i},Smith,alex{i}@example.com,{1 + i % 28}/06/2027,The Barn\r\n" for i in range(200_000)
        )
    assert path.stat().st_size > 10_000_000

    started = time.perf_counter()
    tracemalloc.start()
    try:
        with path.open("rb") as fh:
            reader = open_table(fh)
            mapping = Mapping.suggest(reader.headers)
            count = 0
            # The full pipeline (look-ahead buffer included) on the first rows, then the
            # reader alone for the rest: tracemalloc slows Python code several times over,
            # and this keeps the test within a few seconds.
            stream = iter_records(reader, mapping)
            for result in itertools.islice(stream, 5_000):
                assert isinstance(result, ClientRecord)
                count += 1
            for _row in reader:
                count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200_000
    assert peak < 20 * 1024 * 1024, peak
    assert time.perf_counter() - started < 30
