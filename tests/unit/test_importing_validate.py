from __future__ import annotations

import datetime

import pytest

from core.importing.normalise import NormaliseContext
from core.importing.records import ClientRecord, RawRow, RowError
from core.importing.validate import build_record, parse_name_with_email

CTX = NormaliseContext(date_order="DMY", default_region="GB")


def build(fields: dict[str, str], line: int = 2) -> ClientRecord | RowError:
    return build_record(fields, line, RawRow(line=line, values=dict(fields)), CTX)


def ok(fields: dict[str, str]) -> ClientRecord:
    record = build(fields)
    assert isinstance(record, ClientRecord), record
    return record


def error(fields: dict[str, str], line: int = 2) -> RowError:
    record = build(fields, line)
    assert isinstance(record, RowError), record
    return record


def test_full_row() -> None:
    record = ok(
        {
            "external_id": " 1042 ",
            "partner1_first": "ALEX",
            "partner1_last": "SMITH",
            "partner1_email": "Alex@Example.com",
            "partner1_phone": "07911 123456",
            "partner2_name": "sam o'neil",
            "partner2_email": "sam@example.com",
            "wedding_date": "14/06/2027",
            "venue": "  The   Barn ",
            "status": "Retainer paid",
            "lead_source": "Instagram",
            "inquiry_date": "2026-01-05",
            "booking_date": "5 February 2026",
        }
    )
    assert record == ClientRecord(
        external_id="1042",
        partner1_first="Alex",
        partner1_last="Smith",
        partner1_email="alex@example.com",
        partner1_phone="+447911123456",
        partner2_first="Sam",
        partner2_last="O'Neil",
        partner2_email="sam@example.com",
        partner2_phone=None,
        wedding_date=datetime.date(2027, 6, 14),
        venue="The Barn",
        status="booked",
        lead_source="Instagram",
        inquiry_date=datetime.date(2026, 1, 5),
        booking_date=datetime.date(2026, 2, 5),
        line=2,
    )


def test_single_person_lead_and_defaults() -> None:
    record = ok({"partner1_email": "solo@example.com"})
    assert (record.partner1_first, record.partner2_first, record.partner2_last) == ("", "", "")
    assert record.status == "lead"
    assert record.wedding_date is None
    assert record.venue is None


def test_couple_name_column() -> None:
    record = ok({"couple_name": "Alex Smith & Sam Jones"})
    assert (record.partner1_first, record.partner1_last) == ("Alex", "Smith")
    assert (record.partner2_first, record.partner2_last) == ("Sam", "Jones")


def test_first_name_column_holding_a_couple() -> None:
    record = ok({"partner1_first": "Alex & Sam", "partner1_last": "Smith"})
    assert (record.partner1_first, record.partner1_last, record.partner2_first, record.partner2_last) == (
        "Alex", "Smith", "Sam", "Smith",
    )  # fmt: skip


def test_full_name_split() -> None:
    record = ok({"partner1_name": "Smith, Alex"})
    assert (record.partner1_first, record.partner1_last) == ("Alex", "Smith")


def test_name_with_email_cells() -> None:
    assert parse_name_with_email("Alex Smith (alex@example.com), Sam Jones (sam@example.com)") == [
        ("Alex Smith", "alex@example.com"),
        ("Sam Jones", "sam@example.com"),
    ]
    record = ok({"name_with_email": "Alex Smith (Alex@Example.com); Sam Jones (sam@example.com)"})
    assert (record.partner1_first, record.partner1_last, record.partner1_email) == ("Alex", "Smith", "alex@example.com")
    assert (record.partner2_first, record.partner2_email) == ("Sam", "sam@example.com")
    # The same shape mapped as a plain name column still yields the address.
    record = ok({"partner1_name": "Alex Smith (alex@example.com)"})
    assert (record.partner1_first, record.partner1_email) == ("Alex", "alex@example.com")


def test_two_emails_in_one_cell_second_goes_to_partner() -> None:
    record = ok({"partner1_name": "Alex", "partner1_email": "a@example.com; s@example.com"})
    assert (record.partner1_email, record.partner2_email) == ("a@example.com", "s@example.com")


def test_only_partner2_columns_filled_becomes_partner1() -> None:
    record = ok({"partner2_first": "Sam", "partner2_email": "sam@example.com"})
    assert (record.partner1_first, record.partner1_email, record.partner2_first) == ("Sam", "sam@example.com", "")


def test_a_phone_number_alone_identifies_a_client() -> None:
    record = ok({"partner1_phone": "07911 123456", "venue": "The Barn"})
    assert (record.partner1_phone, record.partner1_first) == ("+447911123456", "")


def test_nothing_to_identify_anyone_is_the_only_row_error() -> None:
    err = error({"partner1_phone": "TBC", "venue": "The Barn", "wedding_date": "14/06/2027"}, line=9)
    assert err.reason == "Row 9: no name, email or phone number, so we can't tell who this is"
    assert err.field is None
    assert err.raw == {"partner1_phone": "TBC", "venue": "The Barn", "wedding_date": "14/06/2027"}


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        (
            {"partner1_name": "Al", "partner1_email": "bob@"},
            "partner1_email",
            "Row 14: the email 'bob@' is not a valid address, so it was not saved",
        ),
        (
            {"partner1_name": "Al", "partner2_email": "x@@y"},
            "partner2_email",
            "Row 14: the partner's email 'x@@y' is not a valid address, so it was not saved",
        ),
        (
            {"partner1_name": "Al", "partner1_phone": "call me"},
            "partner1_phone",
            "Row 14: the phone number 'call me' doesn't look like a phone number, so it was not saved",
        ),
        (
            {"partner1_name": "Al", "partner1_phone": "TBC"},
            "partner1_phone",
            "Row 14: the phone number 'TBC' doesn't look like a phone number, so it was not saved",
        ),
        (
            {"partner1_name": "Al", "wedding_date": "31/02/2027"},
            "wedding_date",
            "Row 14: the wedding date '31/02/2027' isn't a real date, so it was not saved",
        ),
        (
            {"partner1_name": "Al", "booking_date": "whenever"},
            "booking_date",
            "Row 14: the booking date 'whenever' doesn't look like a date, so it was not saved",
        ),
        (
            {"partner1_name": "Al", "venue": "x" * 10_001},
            "venue",
            "Row 14: the venue cell was 10,001 characters long (the limit is 10,000), so it was not saved",
        ),
    ],
)
def test_a_bad_field_loses_the_field_not_the_client(fields: dict[str, str], field: str, reason: str) -> None:
    record = build(fields, line=14)
    assert isinstance(record, ClientRecord), record
    assert record.partner1_first == "Al"
    assert [(w.line, w.field, w.reason) for w in record.warnings] == [(14, field, reason)]
    assert getattr(record, field, None) is None


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"partner1_first": "A" * 201}, "partner1_first", "Row 14: the first name is too long (201 characters)"),
        (
            {"partner1_name": "Al", "external_id": "9" * 201},
            "external_id",
            "Row 14: the ID is too long (201 characters)",
        ),
    ],
)
def test_row_errors_in_plain_words(fields: dict[str, str], field: str, reason: str) -> None:
    err = error(fields, line=14)
    assert (err.line, err.field, err.reason) == (14, field, reason)


def test_every_bad_field_is_reported_in_row_order() -> None:
    record = build({"partner1_name": "Al", "partner1_email": "bob@", "wedding_date": "31/02/2027"})
    assert isinstance(record, ClientRecord)
    assert [w.field for w in record.warnings] == ["partner1_email", "wedding_date"]
    assert (record.partner1_email, record.wedding_date) == (None, None)


def test_html_kept_as_text_control_chars_removed() -> None:
    record = ok({"partner1_name": "<b>Alex</b>\x07 Smith", "venue": "<script>alert(1)</script>\x00"})
    assert record.partner1_first == "<b>Alex</b>"
    assert record.venue == "<script>alert(1)</script>"


def test_hash_external_id_is_stable_and_case_insensitive() -> None:
    a = ok({"partner1_name": "Alex Smith", "partner1_email": "Alex@Example.com", "wedding_date": "14/06/2027"})
    b = ok({"partner1_name": "ALEX SMITH", "partner1_email": "alex@example.com ", "wedding_date": "2027-06-14"})
    c = ok({"partner1_name": "Alex Smith", "partner1_email": "alex@example.com", "wedding_date": "15/06/2027"})
    assert a.external_id == b.external_id != c.external_id
    assert a.external_id.startswith("h-")
    by_name = ok({"partner1_name": "Alex Smith"}).external_id
    assert by_name == ok({"partner1_name": "alex smith"}).external_id


def test_phone_region_from_context() -> None:
    us = NormaliseContext(date_order="MDY", default_region="US")
    record = build_record(
        {"partner1_name": "Al", "partner1_phone": "(415) 555-0134", "wedding_date": "06/14/2027"},
        3,
        RawRow(line=3, values={}),
        us,
    )
    assert isinstance(record, ClientRecord)
    assert record.partner1_phone == "+14155550134"
    assert record.wedding_date == datetime.date(2027, 6, 14)
